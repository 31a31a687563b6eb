"""GET /api/ess/health: whether the API can read, and the state and replay lag of each database
(the primary of DATABASE_URL, the replicas of DATABASE_READ_URL), checked at the request."""

from __future__ import annotations

import msgspec
from litestar import Request, Response, get

from api.replicas import DatabaseState


class DatabaseHealth(msgspec.Struct):
    name: str  # "primary", "replica 1", ... (the order of DATABASE_READ_URL; no host names)
    state: str  # up, lagging (behind by more than ESS_REPLICA_MAX_LAG_SECONDS), down
    serves_reads: bool  # the read endpoints use it now
    lag_seconds: float | None  # replay lag; 0 for the primary; None when down
    problem: str | None  # why it is down


class Health(msgspec.Struct):
    status: str  # ok: all up; degraded: reads are served, but a database is down or lagging
    databases: list[DatabaseHealth]


def health_of(states: list[DatabaseState]) -> tuple[Health, int]:
    """The answer to the states of [primary, replica 1, ...] and its HTTP status."""
    primary, replicas = states[0], states[1:]
    on_replicas = any(s.serves_reads for s in replicas)
    databases = [
        _database(primary, primary.serves_reads and not on_replicas),
        *(_database(s, s.serves_reads) for s in replicas),
    ]
    if not any(d.serves_reads for d in databases):
        return Health("down", databases), 503
    status = "ok" if all(s.state == "up" for s in states) else "degraded"
    return Health(status, databases), 200


def _database(state: DatabaseState, serves_reads: bool) -> DatabaseHealth:
    return DatabaseHealth(state.name, state.state, serves_reads, state.lag_seconds, state.problem)


@get(
    "/api/ess/health",
    summary="State and replay lag of each database; 503 when no database can serve reads",
    tags=["catalog"],
    sync_to_thread=True,
)
def health(request: Request) -> Response[Health]:
    body, status = health_of(request.app.state.read_pools.check())
    return Response(body, status_code=status, headers={"Cache-Control": "no-store"})
