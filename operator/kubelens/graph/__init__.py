"""The causal evidence graph: objects, edges, findings, causes.

- :mod:`~kubelens.graph.model`: :class:`Ref`, :class:`Relation`, :class:`Edge`,
  :class:`Finding`, :class:`Graph`;
- :mod:`~kubelens.graph.build`: the scope and the edges Kubernetes defines, read through
  a ClusterSource; :mod:`~kubelens.graph.logs` and :mod:`~kubelens.graph.signatures`:
  log errors and what they implicate; :mod:`~kubelens.graph.node_facts`: a node's shared
  capacity and who uses it; :mod:`~kubelens.graph.findings`: findings on every object;
- :mod:`~kubelens.graph.causes`: from symptoms to the deepest failing cause.
"""

from kubelens.graph.build import build_graph
from kubelens.graph.causes import Cause, Hop, root_causes
from kubelens.graph.model import Edge, Finding, Graph, Ref, Relation

__all__ = [
    "Cause",
    "Edge",
    "Finding",
    "Graph",
    "Hop",
    "Ref",
    "Relation",
    "build_graph",
    "root_causes",
]
