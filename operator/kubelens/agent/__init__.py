"""The node agent: scheduled node skills, Notifications, and the on-demand skill API.

``kubelens agent`` runs :func:`kubelens.agent.runner.serve` on every node. The operator
side of the skill API is :mod:`kubelens.ports.agents`.

This package stays off the kubernetes client (about 11 MiB of resident memory on
import, a sixth of the agent's budget) and off the coordinator's loop: it talks to the
API server with aiohttp, which the agent needs for its own server anyway.
"""
