"""RFC 9457 problem+json for every error: the offending parameter is named, internals never are."""

from __future__ import annotations

import logging
from http import HTTPStatus

import msgspec
import psycopg
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR, HTTP_503_SERVICE_UNAVAILABLE
from psycopg_pool import PoolTimeout

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("ess")


class Problem(msgspec.Struct, omit_defaults=True):
    title: str
    status: int
    detail: str | None = None
    type: str = "about:blank"
    parameter: str | None = None
    instance: str | None = None


class ProblemError(HTTPException):
    """A client error about one parameter (or path segment)."""

    def __init__(
        self,
        status: int,
        detail: str,
        parameter: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status, detail=detail, headers=headers)
        self.parameter = parameter


def bad_parameter(parameter: str, detail: str) -> ProblemError:
    return ProblemError(400, f"{parameter}: {detail}", parameter)


def not_found(parameter: str, detail: str) -> ProblemError:
    return ProblemError(404, detail, parameter)


def _response(
    request: Request, problem: Problem, headers: dict[str, str] | None = None
) -> Response:
    problem.instance = request.url.path
    return Response(
        content=msgspec.json.encode(problem),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def http_exception_handler(request: Request, exc: HTTPException) -> Response:
    parameter = getattr(exc, "parameter", None)
    detail = exc.detail
    if isinstance(exc, ValidationException):
        # Litestar's own parameter validation: name the parameter it rejected
        extra = exc.extra if isinstance(exc.extra, list) else []
        keys = [e.get("key") for e in extra if isinstance(e, dict) and e.get("key")]
        if keys:
            parameter = keys[0]
            messages = "; ".join(f"{e.get('key')}: {e.get('message')}" for e in extra)
            detail = messages
    elif isinstance(exc, NotFoundException) and not isinstance(exc, ProblemError):
        detail = f"no resource at {request.url.path}"
    return _response(
        request,
        Problem(
            title=_title(exc.status_code),
            status=exc.status_code,
            detail=detail,
            parameter=parameter,
        ),
        # WWW-Authenticate on 401/403, Retry-After on 429
        headers=exc.headers,
    )


def internal_error_handler(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s", request.url.path, exc_info=exc)
    return _response(
        request,
        Problem(
            title="Internal Server Error",
            status=HTTP_500_INTERNAL_SERVER_ERROR,
            detail="the server failed to answer this request; it has been logged",
        ),
    )


# how long a client should wait before retrying a request the database could not serve
RETRY_AFTER_S = 5


def database_unavailable_handler(request: Request, exc: Exception) -> Response:
    """A statement timeout (QueryCanceled), a lost connection or an exhausted pool: the
    request may succeed later, so 503 with Retry-After, never the SQL or the driver's text."""
    timed_out = isinstance(exc, psycopg.errors.QueryCanceled)
    log.warning("database unavailable on %s: %s", request.url.path, type(exc).__name__)
    detail = (
        "the query ran longer than the server allows; narrow the window or the page, or retry"
        if timed_out
        else "the database is busy or unreachable; retry later"
    )
    return _response(
        request,
        Problem(title="Service Unavailable", status=HTTP_503_SERVICE_UNAVAILABLE, detail=detail),
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


EXCEPTION_HANDLERS = {
    HTTPException: http_exception_handler,
    # QueryCanceled is an OperationalError; both, and PoolTimeout, are retryable
    psycopg.OperationalError: database_unavailable_handler,
    PoolTimeout: database_unavailable_handler,
    Exception: internal_error_handler,
}
