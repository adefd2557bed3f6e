"""Local Redis and PostgreSQL for the demo and tests: use one that answers, else start Debian's.

Production never calls this: there REDIS_URL and DATABASE_URL point at managed services.
"""

from __future__ import annotations

import glob
import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit


def port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    with socket.socket() as s:
        s.settimeout(timeout)
        return s.connect_ex((host, port)) == 0


def wait_port(host: str, port: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if port_open(host, port):
            return True
        time.sleep(0.1)
    return False


def _loopback(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise RuntimeError(f"{url} is not on this machine: start it there, StoreSight only starts local servers")
    return host, port


def ensure_redis(url: str = "redis://127.0.0.1:6379/0") -> tuple[str, bool]:
    """Return (url, started): started is True when no Redis answered and one was started here."""
    host, port = _loopback(url, 6379)
    if port_open(host, port):
        return url, False
    server = shutil.which("redis-server")
    if server is None:
        raise RuntimeError(f"no Redis answers at {url} and redis-server is not installed (run make setup)")
    subprocess.run([server, "--daemonize", "yes", "--bind", "127.0.0.1", "--port", str(port),
                    "--save", "", "--appendonly", "no"], check=True, stdout=subprocess.DEVNULL)
    if not wait_port("127.0.0.1", port, 10):
        raise RuntimeError("redis-server did not start")
    return url, True


def stop_redis(url: str) -> None:
    """Shut down a Redis this process started (no save: nothing of it is kept)."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        client.shutdown(nosave=True)
    except redis.ConnectionError:
        pass  # the server closes the connection as it exits
    finally:
        client.close()


def ensure_postgres(url: str = "postgresql://postgres@127.0.0.1:5432/test") -> tuple[str, bool]:
    """Return (url, started), starting Debian's PostgreSQL cluster when none answers."""
    host, port = _loopback(url, 5432)
    if port_open(host, port):
        return url, False
    versions = sorted(Path(p).name for p in glob.glob("/etc/postgresql/*"))
    if not versions:
        raise RuntimeError(f"no PostgreSQL answers at {url} and none is installed (run make setup)")
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"],
                   check=True, stdout=subprocess.DEVNULL)
    if not wait_port("127.0.0.1", port, 20):
        raise RuntimeError("PostgreSQL did not start")
    return url, True
