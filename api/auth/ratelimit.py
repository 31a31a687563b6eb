"""Rate limiting of anonymous requests: a token bucket per client address.

The client is the socket peer, unless the peer is a trusted reverse proxy: then X-Forwarded-For
is read from the right, skipping trusted proxies, and the first other address is the client
(a client cannot spoof its way past the proxy by sending its own X-Forwarded-For). Buckets live in
the process: behind several API processes each one limits on its own.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections.abc import Sequence

from api.config import Network

# more clients than this and the full (idle) buckets are forgotten
MAX_TRACKED_CLIENTS = 10_000


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]
) -> str:
    def is_trusted(address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in trusted)

    client = peer or "unknown"
    if not trusted or not is_trusted(client):
        return client
    hops = [h.strip() for value in forwarded_for for h in value.split(",") if h.strip()]
    for hop in reversed(hops):
        client = hop
        if not is_trusted(hop):
            break
    return client


class RateLimiter:
    def __init__(self, burst: int, per_second: float, clock=time.monotonic) -> None:
        self.burst = burst
        self.per_second = per_second
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.burst > 0

    def acquire(self, client: str) -> float:
        """Take one request from the client's bucket: 0 if allowed, else seconds to wait."""
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.get(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.per_second)
            if tokens >= 1:
                self._buckets[client] = (tokens - 1, now)
                if len(self._buckets) > MAX_TRACKED_CLIENTS:
                    self._forget_idle(now)
                return 0.0
            self._buckets[client] = (tokens, now)
        if self.per_second <= 0:
            return math.inf
        return (1 - tokens) / self.per_second

    def _forget_idle(self, now: float) -> None:
        full = [
            c
            for c, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * self.per_second >= self.burst
        ]
        for c in full:
            del self._buckets[c]
