"""A test server run as a subprocess: ready once it listens on its port, stopped with SIGTERM."""

from __future__ import annotations

import subprocess

from tools.localservers import wait_port


class ListeningProcess:
    """Base of the tests' TLS servers (stunnel, redis-server); ``port`` is set by the subclass."""

    port: int
    _proc: subprocess.Popen | None = None

    def _launch(self, command: list[str], what: str) -> None:
        """Start ``command`` and wait up to 10 s for its port; on failure stop it and raise."""
        self._proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_port("127.0.0.1", self.port, 10):
            self.stop()
            raise RuntimeError(f"{what} did not listen on {self.port}")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(10)
        self._proc = None
