"""The Alertmanager webhook receiver: alert groups become Investigations.

``kubelens webhook`` runs :func:`kubelens.webhook.server.serve`; docs/webhook.md is the
user's guide. Layers: :mod:`.server` (HTTP, auth, answers) → :mod:`.service` (one
Investigation per alert group, batching, rate limit) → :mod:`.investigations` (pure:
names, namespace, reason, context) over :mod:`.payload` (the validated payload).
"""
