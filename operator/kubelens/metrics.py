"""Prometheus metrics: every series kubelens exports, declared once.

The operator, the agent and the webhook each serve the default registry on their own
``/metrics``; only the series a process touches carry samples.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

# --- operator: investigations ------------------------------------------------------
INVESTIGATIONS = Counter(
    "kubelens_investigations_total",
    "Investigations that reached a phase, by namespace and phase.",
    ["namespace", "phase"],
)
INVESTIGATION_DURATION = Histogram(
    "kubelens_investigation_duration_seconds",
    "Wall time of finished investigations, from start of run to end.",
    ["namespace", "outcome"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600),
)
INVESTIGATION_ITERATIONS = Histogram(
    "kubelens_investigation_iterations",
    "LLM turns used by finished investigations.",
    ["namespace"],
    buckets=(1, 2, 3, 5, 8, 13, 25, 50, 100, 200),
)
QUEUE_DEPTH = Gauge(
    "kubelens_queue_depth",
    "Investigations waiting for their namespace's coordinator.",
    ["namespace"],
)

# --- LLM and tools -------------------------------------------------------------------
LLM_CALLS = Counter(
    "kubelens_llm_calls_total", "LLM calls, by model and run outcome.", ["model", "outcome"]
)
LLM_TOKENS = Counter(
    "kubelens_llm_tokens_total",
    "LLM tokens, by model and kind (prompt, completion).",
    ["model", "kind"],
)
LLM_COST = Counter(
    "kubelens_llm_cost_dollars_total", "LLM cost in US dollars as litellm prices it.", ["model"]
)
TOOL_CALLS = Counter(
    "kubelens_tool_calls_total",
    "Coordinator tool calls, by tool and outcome.",
    ["tool", "outcome"],
)

# --- webhook -------------------------------------------------------------------------
WEBHOOK_ALERTS = Counter(
    "kubelens_webhook_alerts_total",
    "Alerts received by the Alertmanager webhook, by outcome.",
    ["outcome"],
)
WEBHOOK_REQUESTS = Counter(
    "kubelens_webhook_requests_total", "Webhook HTTP requests, by status code.", ["code"]
)

# --- agent ---------------------------------------------------------------------------
SKILL_SNAPSHOT_SECONDS = Histogram(
    "kubelens_skill_snapshot_duration_seconds",
    "Time to snapshot one skill.",
    ["skill"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
NOTIFICATIONS_RAISED = Counter(
    "kubelens_notifications_raised_total",
    "Notifications raised (new or repeated), by skill and severity.",
    ["skill", "severity"],
)
AGENT_REQUESTS = Counter(
    "kubelens_agent_requests_total",
    "Agent API requests, by endpoint and status code.",
    ["endpoint", "code"],
)


def serve(port: int) -> None:
    """Serve /metrics on ``port`` in a background thread (0 turns it off)."""
    if port:
        start_http_server(port)
