"""Real servers for tests: the embedded broker, Redis, PostgreSQL. Started if not running."""

from __future__ import annotations

import glob
import shutil
import socket
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"
INTEL_DIR = SHARED_DATA / "intel-one-by-one"
INTEL_CLIP = INTEL_DIR / "one-by-one-person-detection.mp4"
CAVIAR_DIR = SHARED_DATA / "caviar-oneleaveshop1cor"


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


def ensure_redis(port: int = 6379) -> str:
    """Return a Redis URL, starting Debian's redis-server on loopback if none answers."""
    if not port_open("127.0.0.1", port):
        server = shutil.which("redis-server")
        if server is None:
            raise RuntimeError(f"no Redis on 127.0.0.1:{port} and no redis-server installed (run make setup)")
        subprocess.run([server, "--daemonize", "yes", "--bind", "127.0.0.1", "--port", str(port),
                        "--save", "", "--appendonly", "no"], check=True)
        if not wait_port("127.0.0.1", port, 10):
            raise RuntimeError("redis-server did not start")
    return f"redis://127.0.0.1:{port}/0"


def ensure_postgres(port: int = 5432) -> str:
    """Return a PostgreSQL URL, starting Debian's cluster if none answers."""
    if not port_open("127.0.0.1", port):
        versions = sorted(Path(p).name for p in glob.glob("/etc/postgresql/*"))
        if not versions:
            raise RuntimeError(f"no PostgreSQL on 127.0.0.1:{port} and none installed (run make setup)")
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"], check=True)
        if not wait_port("127.0.0.1", port, 20):
            raise RuntimeError("PostgreSQL did not start")
    return f"postgresql://postgres@127.0.0.1:{port}/test"
