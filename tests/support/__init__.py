"""In-process Kubernetes API emulator and pytest fixtures for integration tests."""

from tests.support.emulator import ApiError, Emulator, RecordedRequest, Resource, TokenIdentity

__all__ = ["ApiError", "Emulator", "RecordedRequest", "Resource", "TokenIdentity"]
