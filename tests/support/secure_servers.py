"""Redis and PostgreSQL as production runs them: a password and TLS, started by the test.

Debian's redis-server with ``requirepass`` on a TLS-only port, and a PostgreSQL cluster made by
initdb in a temporary folder with scram-sha-256 and ``ssl=on`` (only ``hostssl`` connections
allowed), both with a server certificate from ``tests.support.tls.make_pki``. Each runs on free
ports and is removed at the end; the machine's own servers are not touched.
"""

from __future__ import annotations

import glob
import shutil
import subprocess
import tempfile
from pathlib import Path

from storesight.broker import free_port
from tests.support.process import ListeningProcess
from tests.support.tls import Pki
from tools.localservers import wait_port


class SecureRedis(ListeningProcess):
    """redis-server with a password, listening only on a TLS port of 127.0.0.1."""

    def __init__(self, pki: Pki, password: str):
        self.pki = pki
        self.password = password
        self.port = free_port()

    def url(self, ca: Path | None = None) -> str:
        """A ``rediss://`` URL verifying the server against ``ca`` (default: the right CA); no password."""
        return f"rediss://127.0.0.1:{self.port}/0?ssl_ca_certs={ca or self.pki.ca}"

    def start(self) -> SecureRedis:
        server = shutil.which("redis-server")
        if server is None:
            raise RuntimeError("redis-server is not installed (make setup)")
        self._launch([server, "--port", "0", "--tls-port", str(self.port), "--bind", "127.0.0.1",
                      "--tls-cert-file", str(self.pki.server_cert), "--tls-key-file", str(self.pki.server_key),
                      "--tls-ca-cert-file", str(self.pki.ca), "--tls-auth-clients", "no",
                      "--requirepass", self.password, "--save", "", "--appendonly", "no"], "redis-server with TLS")
        return self


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed (make setup)")
    return found[-1]


class SecurePostgres:
    """A throwaway cluster: user ``postgres`` with a scram-sha-256 password, TLS required."""

    def __init__(self, pki: Pki, password: str, user: str = "postgres"):
        self.pki = pki
        self.password = password
        self.user = user
        self.port = free_port()
        self.dir: Path | None = None

    def url(self, ca: Path | None = None, database: str = "postgres") -> str:
        """A ``sslmode=verify-full`` URL (no password: PGPASSWORD gives it)."""
        return (f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"
                f"?sslmode=verify-full&sslrootcert={ca or self.pki.ca}")

    def _as_owner(self, *cmd: str) -> None:
        # initdb and postgres refuse to run as root: run them as Debian's postgres user.
        prefix = ["runuser", "-u", "postgres", "--"] if _is_root() else []
        subprocess.run([*prefix, *cmd], check=True, capture_output=True, timeout=120)

    def start(self) -> SecurePostgres:
        self.dir = Path(tempfile.mkdtemp(prefix="storesight-pg-"))
        data = self.dir / "data"
        pwfile = self.dir / "pw"
        pwfile.write_text(self.password + "\n")
        for name, source in (("server.crt", self.pki.server_cert), ("server.key", self.pki.server_key)):
            shutil.copy(source, self.dir / name)
        (self.dir / "server.key").chmod(0o600)
        if _is_root():
            shutil.chown(self.dir, "postgres")
            for path in self.dir.iterdir():
                shutil.chown(path, "postgres")
        self._as_owner(_pg_bin("initdb"), "-D", str(data), "-U", self.user, "--auth=scram-sha-256",
                       f"--pwfile={pwfile}")
        pwfile.unlink()
        (data / "pg_hba.conf").write_text(
            "local all all scram-sha-256\n"
            "hostssl all all 127.0.0.1/32 scram-sha-256\n")  # no plain 'host' line: TLS or nothing
        with open(data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.dir}'\n"
                       f"ssl = on\nssl_cert_file = '{self.dir / 'server.crt'}'\n"
                       f"ssl_key_file = '{self.dir / 'server.key'}'\npassword_encryption = 'scram-sha-256'\n"
                       "fsync = off\n")
        self._as_owner(_pg_bin("pg_ctl"), "-D", str(data), "-l", str(self.dir / "log"), "-w", "-t", "60", "start")
        if not wait_port("127.0.0.1", self.port, 30):
            raise RuntimeError("PostgreSQL with TLS did not start")
        return self

    def stop(self) -> None:
        if self.dir is None:
            return
        try:
            self._as_owner(_pg_bin("pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


def _is_root() -> bool:
    import os

    return os.geteuid() == 0
