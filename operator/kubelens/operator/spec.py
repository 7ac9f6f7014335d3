"""An Investigation's spec, validated at the edge.

The CRD's schema already refuses most bad input at the API server; this is the second
gate, for what a schema cannot say (a known skill, an allowed model) and for clusters
where the CRD is older than the operator.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel


class InvalidSpecError(ValueError):
    """The spec cannot run; the message says what to change."""


class Budget(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    max_tokens: int | None = Field(None, ge=1)
    max_cost: float | None = Field(None, ge=0)


class InvestigationSpec(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    reason: str = Field(min_length=1, max_length=2000)
    context: dict[str, Any] = Field(default_factory=dict)
    skills: list[str] = Field(default_factory=list, max_length=20)
    notifications: list[str] = Field(default_factory=list, max_length=100)
    nodes: list[str] = Field(default_factory=list, max_length=100)
    node_selector: dict[str, str] = Field(default_factory=dict)
    max_iterations: int = Field(25, ge=1, le=200)
    timeout_seconds: int = Field(300, ge=10, le=3600)
    model: str | None = Field(None, max_length=200)
    budget: Budget = Field(default_factory=lambda: Budget())


def parse_spec(
    spec: dict[str, Any], known_skills: set[str], default_model: str, allowed_models: list[str]
) -> tuple[InvestigationSpec, str]:
    """Validate a spec; return it with the model it runs on ("" = rule-based analyst)."""
    try:
        parsed = InvestigationSpec.model_validate(spec)
    except ValidationError as exc:
        problems = "; ".join(
            f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidSpecError(problems) from None
    unknown = sorted(set(parsed.skills) - known_skills)
    if unknown:
        raise InvalidSpecError(
            f"spec.skills: unknown skill(s) {', '.join(unknown)}; "
            f"available: {', '.join(sorted(known_skills))}"
        )
    model = default_model
    if parsed.model and parsed.model != default_model:
        if parsed.model not in allowed_models:
            allowed = ", ".join(allowed_models) or "none (set llm.allowedModels in the chart)"
            raise InvalidSpecError(
                f"spec.model: {parsed.model!r} is not in the operator's allow-list; "
                f"allowed: {allowed}"
            )
        model = parsed.model
    return parsed, model
