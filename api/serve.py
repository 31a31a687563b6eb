"""`ess serve` and `ess run` under uvicorn, with failures a user can read: a port in use is
refused before anything starts, an exception of the app's startup (the database gone) is raised
to the command line instead of logged as a traceback, and the server stops when the embedded
engine it uses goes away."""

from __future__ import annotations

import errno
import signal
import socket
import threading
import time
from collections.abc import Callable

import uvicorn
from uvicorn.server import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from api.cli_errors import CommandError
from api.engine import EngineStopped

WATCH_INTERVAL_S = 2.0
WORKER_HEALTHCHECK_S = 30
# on SIGTERM or Ctrl-C, requests in flight (a download too) get this long to finish before they
# are cancelled; then the pool closes and the embedded engine stops
SHUTDOWN_GRACE_S = 20


def check_port_free(host: str, port: int) -> None:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise CommandError(
                f"port {port} on {host} is in use (another `ess serve`?): stop that program, or "
                "choose another port with --port"
            ) from None


class _Server(uvicorn.Server):
    """uvicorn's server, calling `on_started` once it listens."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None] | None) -> None:
        super().__init__(config)
        self.on_started = on_started

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        if self.started and self.on_started is not None:
            self.on_started()


def serve(
    app,
    host: str,
    port: int,
    engine_alive: Callable[[], bool] | None = None,
    on_started: Callable[[], None] | None = None,
) -> None:
    """Serve until Ctrl-C. `engine_alive`, when given, is polled: the server stops, and
    EngineStopped is raised, once it answers False. `on_started` is called once the server
    listens."""
    startup_errors: list[BaseException] = []
    server = _Server(
        uvicorn.Config(
            _raising_startup(app, startup_errors),
            host=host,
            port=port,
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        ),
        on_started,
    )
    engine_lost = threading.Event()
    if engine_alive is not None:

        def watch() -> None:
            while not server.should_exit:
                if not engine_alive():
                    engine_lost.set()
                    server.should_exit = True
                    return
                time.sleep(WATCH_INTERVAL_S)

        threading.Thread(target=watch, name="engine-watch", daemon=True).start()
    # uvicorn ends a graceful shutdown by raising the signal that asked for it again: SIGTERM's
    # default action would kill this process before the embedded engine is stopped
    previous = signal.signal(signal.SIGTERM, _exit_after_shutdown)
    try:
        server.run()
    except SystemExit:
        if not startup_errors:
            raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    if startup_errors:
        raise startup_errors[0]
    if engine_lost.is_set():
        raise EngineStopped("the embedded engine stopped while the server ran")


def serve_workers(factory: str, host: str, port: int, workers: int) -> None:
    """Serve from `workers` processes sharing one listening socket (the kernel spreads the
    connections), each building its own app and connection pool with `factory` (an import
    string). uvicorn's supervisor replaces a worker that dies and stops them all on Ctrl-C;
    a worker that fails to start stops the others."""
    config = uvicorn.Config(
        factory,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # a worker that does not answer the supervisor's ping in time is killed and replaced:
        # uvicorn's 5 s is shorter than a fresh interpreter's imports on a busy machine
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    if any(process.exitcode == STARTUP_FAILURE for process in supervisor.processes):
        raise CommandError("an API process failed to start (its error is above)")


def _exit_after_shutdown(signum, frame) -> None:
    """SIGTERM: the server has finished its requests; unwind (closing the engine), status 0."""
    raise SystemExit(0)


def _raising_startup(app, errors: list[BaseException]):
    """The app, with the exception that fails its startup kept in `errors` (uvicorn would log
    it as a traceback, then exit with status 3)."""

    async def asgi(scope, receive, send):
        if scope["type"] != "lifespan":
            return await app(scope, receive, send)

        async def send_quietly(message):
            if message["type"] == "lifespan.startup.failed":
                message = {**message, "message": ""}
            await send(message)

        try:
            await app(scope, receive, send_quietly)
        except BaseException as exc:
            errors.append(exc)
            raise

    return asgi
