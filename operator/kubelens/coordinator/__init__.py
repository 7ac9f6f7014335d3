"""The coordinator: the LLM tool loop and its model clients; its ports are :mod:`kubelens.ports`.

:class:`ToolLoop` runs one investigation; :class:`Coordinator` is the library's FIFO of
runs over one loop; :func:`build_model` is the one way a model is chosen.
"""

from __future__ import annotations

from kubelens.coordinator.core import Listener, RunEvent, RunOptions, ToolLoop
from kubelens.coordinator.library import Coordinator
from kubelens.coordinator.llm import LiteLLMClient, ModelClient, ModelError, build_model

__all__ = [
    "Coordinator",
    "Listener",
    "LiteLLMClient",
    "ModelClient",
    "ModelError",
    "RunEvent",
    "RunOptions",
    "ToolLoop",
    "build_model",
]
