"""The coordinator: the LLM tool loop and its model clients; its ports are :mod:`kubelens.ports`."""

from __future__ import annotations

from kubelens.config import Settings
from kubelens.coordinator.core import Coordinator, RunEvent, RunOptions
from kubelens.coordinator.llm import LiteLLMClient, ModelClient, ModelError

__all__ = [
    "Coordinator",
    "LiteLLMClient",
    "ModelClient",
    "ModelError",
    "RunEvent",
    "RunOptions",
    "build_model",
]


def build_model(settings: Settings, model: str | None = None) -> ModelClient:
    """The configured LLM, or the built-in rule-based analyst when none is set."""
    chosen = settings.model if model is None else model
    if not chosen:
        from kubelens.coordinator.analyst_model import AnalystModel

        return AnalystModel()
    return LiteLLMClient(
        model=chosen,
        retries=settings.llm_retries,
        timeout=settings.llm_timeout,
        api_base=settings.llm_api_base or None,
    )
