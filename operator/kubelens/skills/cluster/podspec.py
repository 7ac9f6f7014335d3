"""What a pod's spec asks for, as ``describe_pod`` shows it: volumes and their sources,
mounts, env and envFrom names with their sources, command and args, resources, probes.

Values are shown only where they are the pod's own literals (env ``value``, args), and
always redacted; a value read from a ConfigMap or a Secret is named, never read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubelens.redact import redact
from kubelens.skills.cluster.common import items, section, short

PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
PROBE_TIMINGS = (
    "initialDelaySeconds",
    "periodSeconds",
    "timeoutSeconds",
    "failureThreshold",
    "successThreshold",
)
RESOURCE_NAMES = ("cpu", "memory", "ephemeral-storage")


def volume_view(volume: Mapping[str, Any]) -> dict[str, Any]:
    """One volume: ``source`` names what it reads (``Secret/api-tls``; a key named
    "secret" would be masked by redaction), with ``items``, ``sizeLimit`` and kin."""
    name = volume.get("name")
    if "configMap" in volume:
        ref = section(volume, "configMap")
        return _with_items({"name": name, "source": f"ConfigMap/{ref.get('name')}"}, ref)
    if "secret" in volume:
        ref = section(volume, "secret")
        return _with_items({"name": name, "source": f"Secret/{ref.get('secretName')}"}, ref)
    if "persistentVolumeClaim" in volume:
        ref = section(volume, "persistentVolumeClaim")
        view: dict[str, Any] = {
            "name": name,
            "source": f"PersistentVolumeClaim/{ref.get('claimName')}",
        }
        if ref.get("readOnly"):
            view["readOnly"] = True
        return view
    if "emptyDir" in volume:
        ref = section(volume, "emptyDir")
        view = {"name": name, "source": "emptyDir"}
        view.update({k: ref[k] for k in ("medium", "sizeLimit") if k in ref})
        return view
    if "hostPath" in volume:
        ref = section(volume, "hostPath")
        return {"name": name, "source": f"hostPath {ref.get('path')}", "type": ref.get("type")}
    if "projected" in volume:
        sources = [_projected_source(s) for s in items(section(volume, "projected"), "sources")]
        return {"name": name, "source": "projected", "sources": sources}
    kind = next((k for k in volume if k != "name"), "unknown")
    return {"name": name, "source": str(kind)}


def _with_items(view: dict[str, Any], ref: Mapping[str, Any]) -> dict[str, Any]:
    chosen = items(ref, "items")
    if chosen:
        # only these keys become files: a key missing here is a file missing in the pod
        view["items"] = [{"key": i.get("key"), "path": i.get("path")} for i in chosen]
    if ref.get("optional"):
        view["optional"] = True
    return view


def _projected_source(source: Mapping[str, Any]) -> dict[str, Any]:
    for kind, label in (("configMap", "ConfigMap"), ("secret", "Secret")):
        if kind in source:
            ref = section(source, kind)
            return _with_items({"source": f"{label}/{ref.get('name')}"}, ref)
    if "serviceAccountToken" in source:
        path = section(source, "serviceAccountToken").get("path")
        return {"source": f"serviceAccountToken {path}"}
    return {"source": next(iter(source), "unknown")}


def env_view(container: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Env names with their sources; a literal value is shown redacted."""
    out: list[dict[str, Any]] = []
    for env in items(container, "env"):
        name = str(env.get("name"))
        value_from = section(env, "valueFrom")
        if not value_from:
            # redact({name: value}) masks values of secret-named variables whole
            value = redact({name: short(env.get("value", ""))})[name]
            out.append({"name": name, "value": value})
            continue
        out.append({"name": name, "from": _value_source(value_from)})
    return out


def _value_source(value_from: Mapping[str, Any]) -> str:
    for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
        ref = section(value_from, key)
        if ref:
            optional = " (optional)" if ref.get("optional") else ""
            return f"{kind}/{ref.get('name')} key {ref.get('key')}{optional}"
    if "fieldRef" in value_from:
        return f"field {section(value_from, 'fieldRef').get('fieldPath')}"
    if "resourceFieldRef" in value_from:
        return f"resource {section(value_from, 'resourceFieldRef').get('resource')}"
    return "unknown source"


def env_from_view(container: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for source in items(container, "envFrom"):
        prefix = f" (prefix {source.get('prefix')})" if source.get("prefix") else ""
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            ref = section(source, key)
            if ref:
                optional = " (optional)" if ref.get("optional") else ""
                out.append(f"{kind}/{ref.get('name')}{prefix}{optional}")
    return out


def resources_view(container: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    spec = section(container, "resources")
    out: dict[str, dict[str, str]] = {}
    for part in ("requests", "limits"):
        values = section(spec, part)
        chosen = {k: str(values[k]) for k in RESOURCE_NAMES if k in values}
        if chosen:
            out[part] = chosen
    return out


def probe_view(probe: Mapping[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {k: probe[k] for k in PROBE_TIMINGS if k in probe}
    if "httpGet" in probe:
        get = section(probe, "httpGet")
        view["httpGet"] = (
            f"{get.get('scheme', 'HTTP').lower()}://:{get.get('port')}{get.get('path', '/')}"
        )
    elif "tcpSocket" in probe:
        view["tcpSocket"] = section(probe, "tcpSocket").get("port")
    elif "grpc" in probe:
        view["grpc"] = section(probe, "grpc").get("port")
    elif "exec" in probe:
        view["exec"] = short(" ".join(str(a) for a in section(probe, "exec").get("command") or []))
    return view


def container_spec_view(container: Mapping[str, Any]) -> dict[str, Any]:
    """What one container is told to run with."""
    view: dict[str, Any] = {"name": container.get("name"), "image": container.get("image")}
    for key in ("command", "args"):
        if container.get(key):
            # one text, so a secret after its flag (``--token abc``) is seen and masked
            view[key] = short(" ".join(str(a) for a in container.get(key) or []))
    resources = resources_view(container)
    if resources:
        view["resources"] = resources
    env = env_view(container)
    if env:
        view["env"] = env
    env_from = env_from_view(container)
    if env_from:
        view["envFrom"] = env_from
    mounts = [
        {k: m[k] for k in ("name", "mountPath", "subPath", "readOnly") if k in m}
        for m in items(container, "volumeMounts")
    ]
    if mounts:
        view["volumeMounts"] = mounts
    probes = {p: probe_view(section(container, p)) for p in PROBES if p in container}
    if probes:
        view["probes"] = probes
    return view


def pod_spec_view(pod: Mapping[str, Any]) -> dict[str, Any]:
    """The pod-level settings a diagnosis asks about, and every container's spec."""
    spec, status = section(pod, "spec"), section(pod, "status")
    view: dict[str, Any] = {
        "node": spec.get("nodeName"),
        "qosClass": status.get("qosClass"),
    }
    for key in ("priorityClassName", "serviceAccountName", "nodeSelector", "restartPolicy"):
        if spec.get(key):
            view[key] = spec.get(key)
    volumes = [volume_view(v) for v in items(spec, "volumes")]
    if volumes:
        view["volumes"] = volumes
    view["containerSpecs"] = [container_spec_view(c) for c in items(spec, "containers")]
    init = [container_spec_view(c) for c in items(spec, "initContainers")]
    if init:
        view["initContainerSpecs"] = init
    return view
