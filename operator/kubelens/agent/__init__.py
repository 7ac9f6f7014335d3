"""The node agent: scheduled node skills, Notifications, and the on-demand skill API.

``kubelens agent`` runs :func:`kubelens.agent.runner.serve` on every node. The operator
side of the skill API is :mod:`kubelens.agent.client`.

This package's agent-side modules stay off the kubernetes client (about 11 MiB of
resident memory on import, a sixth of the agent's budget): they talk to the API server
with aiohttp, which the agent needs for its own server anyway. Only
:mod:`kubelens.agent.client`, which runs in the operator, uses the official client.
"""
