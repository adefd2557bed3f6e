"""Real TLS for tests: certificates made with openssl, and stunnel (Debian) in front of a server.

``make_pki`` writes a CA, a server certificate for 127.0.0.1/localhost and a client certificate
(mutual TLS), all signed by that CA, plus an unrelated second CA (the "wrong CA" of tests).
``Stunnel`` terminates TLS on a free port and forwards plaintext to the server behind it: the
embedded Kafka broker, which then advertises the terminator's port.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from storesight.broker import free_port
from tests.support.process import ListeningProcess


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    wrong_ca: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _ca(name: str, cwd: Path) -> None:
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
             "-keyout", f"{name}.key", "-out", f"{name}.pem", cwd=cwd)


def _signed(name: str, ca: str, cwd: Path, extensions: str) -> None:
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", cwd=cwd)
    (cwd / f"{name}.ext").write_text(extensions)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=cwd)


def make_pki(directory: Path) -> Pki:
    """A CA, a server and a client certificate signed by it, and an unrelated CA (a few seconds)."""
    directory.mkdir(parents=True, exist_ok=True)
    _ca("ca", directory)
    _ca("wrong-ca", directory)
    _signed("server", "ca", directory, "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                        "extendedKeyUsage=serverAuth\n")
    _signed("client", "ca", directory, "extendedKeyUsage=clientAuth\n")
    for key in directory.glob("*.key"):
        key.chmod(0o600)  # PostgreSQL refuses a server key others can read
    return Pki(ca=directory / "ca.pem", server_cert=directory / "server.pem", server_key=directory / "server.key",
               client_cert=directory / "client.pem", client_key=directory / "client.key",
               wrong_ca=directory / "wrong-ca.pem")


def stunnel_binary() -> str:
    found = shutil.which("stunnel4") or shutil.which("stunnel")
    if found is None:
        raise RuntimeError("stunnel4 is not installed (make setup installs the Makefile's APT_PACKAGES)")
    return found


class Stunnel(ListeningProcess):
    """stunnel accepting TLS on ``port`` and forwarding to ``target_port`` on 127.0.0.1."""

    def __init__(self, pki: Pki, target_port: int, directory: Path, require_client_cert: bool = False,
                 port: int | None = None):
        self.pki = pki
        self.target_port = target_port
        self.port = port or free_port()
        self.directory = directory
        self.require_client_cert = require_client_cert

    def start(self) -> Stunnel:
        conf = self.directory / f"stunnel-{self.port}.conf"
        lines = ["foreground = yes", "pid =", "debug = 3", "[tls]", f"accept = 127.0.0.1:{self.port}",
                 f"connect = 127.0.0.1:{self.target_port}", f"cert = {self.pki.server_cert}",
                 f"key = {self.pki.server_key}"]
        if self.require_client_cert:
            lines += ["verifyChain = yes", f"CAfile = {self.pki.ca}"]
        conf.write_text("\n".join(lines) + "\n")
        self._launch([stunnel_binary(), str(conf)], "stunnel")
        return self

    def __enter__(self) -> Stunnel:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
