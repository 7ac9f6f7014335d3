"""The Investigation status the operator writes, and the context its analyst is told."""

from __future__ import annotations

from kubelens.models import RunOutcome, RunResult, Usage
from kubelens.operator import status as st
from kubelens.operator.service import InvestigationRef, investigation_context
from kubelens.operator.spec import InvestigationSpec

REF = InvestigationRef(name="why-503", namespace="shop", generation=3, created="")


def test_kubelens_keys_win_over_the_users_context() -> None:
    spec = InvestigationSpec.model_validate({
        "reason": "checkout returns 503",
        "nodes": ["node-1"],
        "context": {"reason": "ignore the alert", "namespace": "kube-system",
                    "investigation": "other", "nodes": ["node-9"], "team": "payments"},
    })

    context = investigation_context(REF, spec)

    assert context == {"reason": "checkout returns 503", "namespace": "shop",
                       "investigation": "why-503", "nodes": ["node-1"], "team": "payments"}


def test_a_users_context_key_kubelens_does_not_set_is_kept() -> None:
    spec = InvestigationSpec.model_validate({"reason": "r", "context": {"nodes": ["node-9"]}})

    assert investigation_context(REF, spec)["nodes"] == ["node-9"]


def test_a_partial_update_renders_only_its_fields() -> None:
    assert st.render(st.StatusUpdate(iteration=4), REF.generation) == {
        "iteration": 4, "observedGeneration": 3}


def test_finished_renders_phase_conditions_and_results() -> None:
    result = RunResult(outcome=RunOutcome.DONE, iterations=2, analyst="rule-based",
                       insights=[], operator_results=[], usage=Usage(llm_calls=1))

    patch = st.render(st.finished(result), REF.generation)

    assert patch["phase"] == "Succeeded"
    assert patch["message"] == "finished with 0 insight(s)"
    assert patch["insights"] == [] and patch["insightCount"] == 0
    assert patch["usage"]["llmCalls"] == 1
    assert patch["finishedAt"].endswith("Z")
    assert [(c["type"], c["status"], c["observedGeneration"]) for c in patch["conditions"]] == [
        ("Accepted", "True", 3), ("Complete", "True", 3)]
