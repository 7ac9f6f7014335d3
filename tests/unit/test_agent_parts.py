"""The agent's parts on their own: the token cache, the writer's resource shape, pod
attribution, kubeconfig reading, the catalog, and the agent process's import footprint."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubelens import notifications
from kubelens.agent import auth, kubeapi
from kubelens.agent.pods import PodDirectory
from kubelens.models import Notification, Severity, Snapshot, Subject
from kubelens.ports.agents import NODE_ARGUMENT, AgentOperators, node_catalog
from kubelens.skills import NODE_SKILLS


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeReviews:
    """Stands in for KubeApi.review_token."""

    def __init__(self, users: dict[str, str], error: kubeapi.KubeApiError | None = None) -> None:
        self.users = users
        self.error = error
        self.calls = 0

    async def review_token(self, token: str, audiences: list[str]) -> dict[str, Any]:
        self.calls += 1
        if self.error:
            raise self.error
        if token not in self.users:
            return {"authenticated": False, "error": "invalid"}
        return {"authenticated": True, "user": {"username": self.users[token]},
                "audiences": audiences}


OPERATOR = "system:serviceaccount:kubelens:kubelens-operator"


def authenticator(reviews: FakeReviews, clock: FakeClock, static: str = "") -> auth.Authenticator:
    return auth.Authenticator(reviews, OPERATOR, static, clock=clock)  # type: ignore[arg-type]


async def test_positive_reviews_are_cached_for_a_minute() -> None:
    reviews, clock = FakeReviews({"good": OPERATOR}), FakeClock()
    checker = authenticator(reviews, clock)
    for _ in range(5):
        assert (await checker.verify("Bearer good")).status == 200
    assert reviews.calls == 1
    clock.now += auth.POSITIVE_TTL + 1
    assert (await checker.verify("Bearer good")).status == 200
    assert reviews.calls == 2


async def test_negative_reviews_are_cached_briefly() -> None:
    reviews, clock = FakeReviews({"other": "system:serviceaccount:x:y"}), FakeClock()
    checker = authenticator(reviews, clock)
    assert (await checker.verify("Bearer bad")).status == 401
    assert (await checker.verify("Bearer bad")).status == 401
    assert (await checker.verify("Bearer other")).status == 403
    assert reviews.calls == 2
    clock.now += auth.NEGATIVE_TTL + 1
    assert (await checker.verify("Bearer bad")).status == 401
    assert reviews.calls == 3


async def test_the_cache_holds_hashes_not_tokens() -> None:
    reviews, clock = FakeReviews({"s3cr3t-token": OPERATOR}), FakeClock()
    checker = authenticator(reviews, clock)
    await checker.verify("Bearer s3cr3t-token")
    assert "s3cr3t-token" not in repr(checker._cache)


async def test_static_token_and_missing_tokenreview() -> None:
    reviews = FakeReviews({}, kubeapi.KubeApiError("not found", 404))
    checker = authenticator(reviews, FakeClock(), static="shared")
    assert (await checker.verify("Bearer shared")).status == 200
    assert (await checker.verify("bearer shared")).status == 200  # the scheme is any case
    assert (await checker.verify("Bearer sharedX")).status == 401
    assert not checker.reviews_available
    assert (await checker.verify("Bearer other")).status == 401
    assert reviews.calls == 1


async def test_no_operator_identity_configured_refuses_reviewed_tokens() -> None:
    reviews = FakeReviews({"good": OPERATOR})
    checker = auth.Authenticator(reviews, "", "", clock=FakeClock())  # type: ignore[arg-type]
    verdict = await checker.verify("Bearer good")
    assert verdict.status == 403
    assert "--operator-service-account" in verdict.reason


@pytest.mark.parametrize("node", ["node-a", "ip-10-0-0-1.ec2.internal", "Weird Node/1", None])
def test_notification_labels_are_valid_label_values(node: str | None) -> None:
    import re

    notification = Notification(
        skill="containers", anomaly_type="container_oom_killed", severity=Severity.CRITICAL,
        observation="killed", hypothesis="limit too low", context="oom_kill +1", node=node,
        subject=Subject(kind="Pod", namespace="shop", name="api-1"),
        snapshots=[Snapshot(data={"a": 1})],
    )
    labels = notifications.to_resource(notification, "shop")["metadata"]["labels"]
    valid = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
    assert all(valid.match(v) and len(v) <= 63 for v in labels.values()), labels
    assert ("kubelens.io/node" in labels) == (node is not None)


class NoPods:
    def __init__(self, pods: list[dict[str, Any]]) -> None:
        self.pods = pods
        self.calls = 0

    async def pods_on_node(self, node: str) -> list[dict[str, Any]]:
        self.calls += 1
        return self.pods


UID = "12345678-aaaa-bbbb-cccc-1234567890ab"


def _notification(subject: Subject | None) -> Notification:
    return Notification(skill="containers", anomaly_type="cpu_throttling",
                        severity=Severity.WARNING, observation="throttled", node="n",
                        subject=subject)


async def test_attribution_by_uid_by_names_and_not_at_all() -> None:
    api = NoPods([{"metadata": {"uid": UID, "name": "web-1", "namespace": "shop"}}])
    clock = FakeClock()
    pods = PodDirectory(api, "n", clock=clock)  # type: ignore[arg-type]

    by_uid = _notification(Subject(kind="Container", name=f"{UID}/abcdef123456"))
    moved = await pods.attribute(by_uid)
    assert moved.subject == Subject(kind="Pod", namespace="shop", name="web-1")
    assert moved.fingerprint == by_uid.fingerprint  # the identity does not change
    assert "container abcdef123456" in moved.context

    by_names = _notification(Subject(kind="Container", namespace="shop", name="web-1/app"))
    assert (await pods.attribute(by_names)).subject == Subject(
        kind="Pod", namespace="shop", name="web-1")

    for subject in (None, Subject(kind="Node", name="n"), Subject(kind="Cgroup", name="/x"),
                    Subject(kind="Pod", name="not-a-uid")):
        same = _notification(subject)
        assert (await pods.attribute(same)) is same
    assert api.calls == 1

    # A miss lists again, but not more than once per MISS_REFRESH_SECONDS.
    ghost = _notification(Subject(kind="Pod", name="99999999-aaaa-bbbb-cccc-1234567890ab"))
    await pods.attribute(ghost)
    assert api.calls == 1  # the list a moment ago is recent enough
    clock.now += 10
    await pods.attribute(ghost)
    assert api.calls == 2


def _kubeconfig(path: Path, cluster: dict[str, Any], user: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [{"name": "k", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
    }))
    return path


def test_kubeconfig_with_a_token(tmp_path: Path) -> None:
    config = _kubeconfig(tmp_path / "config", {"server": "http://127.0.0.1:1234/"},
                         {"token": "abc"})
    api = kubeapi.KubeApi.from_kubeconfig(config)
    assert api.server == "http://127.0.0.1:1234"
    assert api._token() == "abc"


def test_kubeconfig_with_a_token_file_and_no_tls_verification(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("from-file\n")
    config = _kubeconfig(
        tmp_path / "config",
        {"server": "https://127.0.0.1:6443", "insecure-skip-tls-verify": True},
        {"tokenFile": str(token)},
    )
    api = kubeapi.KubeApi.from_kubeconfig(config)
    assert api._token() == "from-file"


def test_kubeconfig_problems_are_explained(tmp_path: Path) -> None:
    config = _kubeconfig(tmp_path / "config", {"server": "https://example.invalid"},
                         {"exec": {"command": "aws"}})
    with pytest.raises(kubeapi.KubeConfigError, match="exec"):
        kubeapi.KubeApi.from_kubeconfig(config)
    config.write_text("current-context: missing\n")
    with pytest.raises(kubeapi.KubeConfigError, match="no context named 'missing'"):
        kubeapi.KubeApi.from_kubeconfig(config)


def test_catalog_is_the_node_skills_with_a_node_argument() -> None:
    names = [entry["name"] for entry in node_catalog()]
    assert names == [cls.name for cls in NODE_SKILLS]
    operators = AgentOperators(None, "ns")  # type: ignore[arg-type]
    for entry in operators.catalog():
        for tool in entry["tools"]:
            assert NODE_ARGUMENT in tool["parameters"]["properties"]
    # The shared catalog itself is not changed by adding the argument.
    for entry in node_catalog():
        for tool in entry["tools"]:
            assert NODE_ARGUMENT not in tool["parameters"].get("properties", {})


def _modules_loaded_by(module: str) -> set[str]:
    """The kubelens modules and heavy libraries a fresh interpreter has after ``import module``."""
    code = (
        f"import sys, {module}\n"
        "heavy = ('kopf', 'litellm', 'kubernetes', 'yaml')\n"
        "print('\\n'.join(m for m in sys.modules if m.startswith('kubelens') or m in heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=60)
    return set(result.stdout.split())


#: What the agent process must never load: the coordinator's loop, the ports (the
#: operator's side, on the kubernetes client), the operator and the heavy libraries.
_OFF_LIMITS_TO_THE_AGENT = ("kubelens.coordinator", "kubelens.ports", "kubelens.operator",
                            "kubelens.kube", "kopf", "litellm", "kubernetes", "yaml")


def test_the_agent_process_imports_nothing_of_the_loop_or_the_operator_side() -> None:
    loaded = _modules_loaded_by("kubelens.agent.runner")
    assert "kubelens.agent.scheduler" in loaded  # the probe sees what the agent loads
    forbidden = sorted(m for m in loaded
                       if any(m == p or m.startswith(p + ".") for p in _OFF_LIMITS_TO_THE_AGENT))
    assert forbidden == []


def test_a_port_loads_the_kubernetes_client_only_where_it_talks_to_agents() -> None:
    assert "kubernetes" in _modules_loaded_by("kubelens.ports.agents")
    for port in ("kubelens.ports.notifications", "kubelens.ports.operators"):
        loaded = _modules_loaded_by(port)
        assert "kubernetes" not in loaded
        assert not any(m.startswith("kubelens.coordinator") for m in loaded)
