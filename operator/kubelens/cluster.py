"""Cluster skills for ``kubelens investigate --namespace NS`` from a laptop."""

from __future__ import annotations

from kubelens.config import Settings
from kubelens.kube import api_client
from kubelens.skills.base import Skill
from kubelens.skills.cluster import KubernetesSource, cluster_skills


def cluster_skills_for(settings: Settings) -> list[Skill]:
    """The cluster skills on ``settings.namespace``, reading the kubeconfig's cluster."""
    source = KubernetesSource(api_client(settings.kubeconfig))
    return cluster_skills(source, settings.namespace)
