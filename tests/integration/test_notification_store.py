"""The operator's view of Notifications: scope, de-duplication, hand-back."""

from __future__ import annotations

from typing import Any

from kubelens.kube import CustomObjects
from kubelens.models import Notification, NotificationState, Severity, Subject
from kubelens.notifications import publish
from kubelens.ports.notifications import NotificationResources, Transition
from tests.support.fixtures import KubeEnv

INSTALL = "kubelens"


def node_notification(node: str, anomaly: str = "disk_full") -> Notification:
    return Notification(skill="os", anomaly_type=anomaly, severity=Severity.WARNING,
                        observation=f"disk on {node} is 91% full", node=node,
                        subject=Subject(kind="Mount", name="/"))


def store(objects: CustomObjects, env: KubeEnv, nodes: list[str] | None) -> NotificationResources:
    return NotificationResources(objects, investigation="inv-1", namespace=env.namespace,
                                 install_namespace=INSTALL, nodes=nodes)


async def test_scope_is_the_namespace_plus_the_involved_nodes(kube_env: KubeEnv,
                                                              kube_client: Any) -> None:
    objects = CustomObjects(kube_client)
    kube_env.emulator.create({"apiVersion": "v1", "kind": "Namespace",
                              "metadata": {"name": INSTALL}})
    for node in ("node-1", "node-2"):
        await publish(objects, node_notification(node), INSTALL)
    pod = Notification(skill="pods", anomaly_type="crash_loop", severity=Severity.CRITICAL,
                       observation="api restarts", node="node-2",
                       subject=Subject(kind="Pod", namespace=kube_env.namespace, name="api"))
    await publish(objects, pod, kube_env.namespace)

    scoped = {n.node for n in await store(objects, kube_env, ["node-1"]).list()}
    assert scoped == {"node-1", "node-2"}  # node-2 only through the namespace's own pod
    everything = await store(objects, kube_env, None).list()
    assert len(everything) == 3
    only_pods = [n for n in await store(objects, kube_env, ["node-3"]).list()]
    assert [n.anomaly_type for n in only_pods] == ["crash_loop"]


async def test_repeats_bump_the_count_and_unresolved_holds_are_released(
        kube_env: KubeEnv, kube_client: Any) -> None:
    objects = CustomObjects(kube_client)
    first = await publish(objects, node_notification("node-1"), kube_env.namespace)
    again = await publish(objects, node_notification("node-1"), kube_env.namespace)
    assert again.id == first.id and again.count == 2
    view = store(objects, kube_env, None)
    [held] = await view.list(NotificationState.UNREAD)
    await view.transition([held.id], Transition(NotificationState.ACKNOWLEDGED, "looking"))
    # A restarted run of the same investigation sees what it held as unread again.
    assert [n.id for n in await store(objects, kube_env, None).list(
        NotificationState.UNREAD)] == [held.id]
    assert await view.release() == [held.id]
    obj = kube_env.emulator.get("notifications", held.id, kube_env.namespace)
    assert obj is not None and obj["status"]["state"] == "Unread"
    assert obj["status"]["count"] == 2
