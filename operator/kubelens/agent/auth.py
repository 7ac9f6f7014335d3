"""Who may call the agent: the operator's ServiceAccount, or the holder of a shared token.

A bearer token is checked with the Kubernetes TokenReview API for the audience
``kubelens-agent`` (the operator sends a projected token minted for it, so a token
stolen from elsewhere in the cluster does not work here), and the reviewed username must
be the configured operator identity, ``system:serviceaccount:NS:NAME``. Positive
reviews are cached for a minute, keyed by a hash of the token (never the token itself),
so a busy investigation costs one review, not one per call. Failed reviews are cached
briefly too, so a client retrying a bad token cannot turn each request into an API call.

A static token (``--agent-token``) is the fallback for clusters without TokenReview;
it is compared in constant time.

Outcomes: no token or an unknown one is 401; a valid token of another identity is
403; a review that cannot be made (API server away) is 503, so the caller retries
instead of concluding its credentials are wrong.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from kubelens.agent.kubeapi import KubeApi, KubeApiError

log = logging.getLogger(__name__)

AUDIENCE = "kubelens-agent"
POSITIVE_TTL = 60.0
NEGATIVE_TTL = 5.0
MAX_CACHED = 1024


@dataclass(frozen=True)
class Verdict:
    status: int  # 200, 401, 403 or 503
    reason: str
    identity: str = ""

    @property
    def allowed(self) -> bool:
        return self.status == 200


class Authenticator:
    def __init__(
        self,
        api: KubeApi | None,
        allowed_identity: str,
        static_token: str = "",
        audience: str = AUDIENCE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.allowed_identity = allowed_identity
        self.static_token = static_token
        self.audience = audience
        self.clock = clock
        self._cache: OrderedDict[str, tuple[float, Verdict]] = OrderedDict()
        #: False once the API server said it has no TokenReview (404): static token only.
        self.reviews_available = api is not None
        self.reviews = 0

    async def verify(self, authorization: str | None) -> Verdict:
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return Verdict(401, "missing bearer token: send 'Authorization: Bearer <token>'")
        if self.static_token and hmac.compare_digest(token.encode(), self.static_token.encode()):
            return Verdict(200, "shared token", "static-token")
        if not self.reviews_available or self.api is None:
            return Verdict(401, "invalid bearer token")
        key = hashlib.sha256(token.encode()).hexdigest()
        cached = self._cache.get(key)
        if cached is not None and self.clock() < cached[0]:
            return cached[1]
        verdict = await self._review(token)
        if verdict.status in (200, 401, 403):
            ttl = POSITIVE_TTL if verdict.allowed else NEGATIVE_TTL
            self._cache[key] = (self.clock() + ttl, verdict)
            self._cache.move_to_end(key)
            while len(self._cache) > MAX_CACHED:
                self._cache.popitem(last=False)
        return verdict

    async def _review(self, token: str) -> Verdict:
        assert self.api is not None
        self.reviews += 1
        try:
            status = await self.api.review_token(token, [self.audience])
        except KubeApiError as exc:
            if exc.status == 404:
                log.warning("the API server has no TokenReview: only the shared token works")
                self.reviews_available = False
                return Verdict(401, "invalid bearer token")
            log.warning("TokenReview failed: %s", exc)
            return Verdict(503, f"cannot verify the token now (TokenReview failed: {exc})")
        if not status.get("authenticated"):
            return Verdict(401, "invalid bearer token")
        audiences = status.get("audiences")
        if isinstance(audiences, list) and audiences and self.audience not in audiences:
            return Verdict(401, f"token is not meant for audience {self.audience!r}")
        username = str((status.get("user") or {}).get("username") or "")
        if not self.allowed_identity:
            return Verdict(
                403,
                f"{username} may not call this agent: no operator identity is configured "
                "(--operator-service-account)",
                username,
            )
        if username != self.allowed_identity:
            return Verdict(403, f"{username} may not call this agent", username)
        return Verdict(200, "service account", username)
