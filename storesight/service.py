"""What every service shares: logging, one HTTP port for /metrics /healthz /readyz (and any
extra routes a service adds), and a graceful SIGTERM that lets the work loop finish its
batch, commit and close."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from storesight.logs import setup_logging

log = logging.getLogger(__name__)

# Default HTTP port of each service (/metrics, /healthz, /readyz); STORESIGHT_HTTP_PORT overrides.
DEFAULT_PORTS = {"ingest": 8081, "detect": 8082, "aggregate": 8083, "alerts": 8084, "archive": 8085,
                 "console": 8086}

# A route handler gets (path, query string) and returns (status, content type, body).
Route = Callable[[str, str], tuple[int, str, bytes]]


class ServiceRunner:
    """Owns the HTTP endpoints and the stop signal of one service process."""

    def __init__(self, name: str, port: int | None = None, host: str = "0.0.0.0", install_signals: bool = True):
        self.name = name
        self.stopping = threading.Event()
        self._ready = threading.Event()
        self._health_checks: list[Callable[[], str | None]] = []
        self._routes: dict[str, Route] = {}
        self._server: ThreadingHTTPServer | None = None
        if port is None:
            port = int(os.environ.get("STORESIGHT_HTTP_PORT", DEFAULT_PORTS.get(name, 0)))
        self.port = port
        self.host = host
        if install_signals:
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum, _frame) -> None:
        log.info("stopping on signal", extra={"signal": signal.Signals(signum).name})
        self.stopping.set()

    def set_ready(self, ready: bool = True) -> None:
        (self._ready.set if ready else self._ready.clear)()

    def add_health_check(self, check: Callable[[], str | None]) -> None:
        """A check returns None when healthy, else a short reason (shown by /healthz)."""
        self._health_checks.append(check)

    def add_route(self, prefix: str, handler: Route) -> None:
        self._routes[prefix] = handler

    def serve_http(self) -> int:
        runner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server API
                parts = urlsplit(self.path)
                status, ctype, body = runner._dispatch(parts.path, parts.query)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args):  # access logs would drown the service's own
                return

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="http", daemon=True).start()
        log.info("http listening", extra={"port": self.port})
        return self.port

    def dispatch(self, path: str, query: str = "") -> tuple[int, str, bytes]:
        """The answer to /metrics, /healthz, /readyz or an added route, for a service that serves
        them from its own web server (the console) instead of ``serve_http``."""
        return self._dispatch(path, query)

    def _dispatch(self, path: str, query: str) -> tuple[int, str, bytes]:
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(REGISTRY)
        if path == "/healthz":
            problems = [p for p in (check() for check in self._health_checks) if p]
            if problems:
                return 503, "text/plain", ("unhealthy: " + "; ".join(problems)).encode()
            return 200, "text/plain", b"ok"
        if path == "/readyz":
            ready = self._ready.is_set() and not self.stopping.is_set()
            return (200, "text/plain", b"ready") if ready else (503, "text/plain", b"not ready")
        for prefix, handler in self._routes.items():
            if path.startswith(prefix):
                return handler(path, query)
        return 404, "text/plain", b"not found"

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def start_service(name: str, port: int | None = None, level: str | None = None) -> ServiceRunner:
    """Set up JSON logging and the HTTP endpoints; the caller runs its loop until ``stopping``."""
    setup_logging(name, level or os.environ.get("LOG_LEVEL", "INFO"))
    runner = ServiceRunner(name, port)
    runner.serve_http()
    return runner
