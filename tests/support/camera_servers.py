"""Camera servers for ingest tests, as processes a test can kill mid-stream and restart on
the same port: the GStreamer RTSP server and the HTTP MJPEG server beside this file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.servers import REPO, wait_port

SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, with the GStreamer bindings


def gstreamer_rtsp_available() -> bool:
    if not os.path.exists(SYSTEM_PYTHON):
        return False
    probe = ("import gi; gi.require_version('GstRtspServer', '1.0'); "
             "from gi.repository import GstRtspServer")
    return subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True).returncode == 0


class CameraServer:
    """A restartable server process listening on 127.0.0.1:port."""

    def __init__(self, command: list[str], port: int):
        self.command, self.port = command, port
        self._proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 20.0) -> CameraServer:
        self._proc = subprocess.Popen(self.command, cwd=REPO, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True)
        if not wait_port("127.0.0.1", self.port, timeout_s):
            self.kill()
            raise RuntimeError(f"camera server did not listen on {self.port}: {self.command}")
        return self

    def kill(self) -> None:
        """SIGKILL: the camera vanishes mid-stream, no goodbye."""
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait(10)
        self._proc = None


def rtsp_server(port: int, clip: Path, mount: str = "/cam") -> CameraServer:
    script = str(Path(__file__).with_name("rtsp_server.py"))
    return CameraServer([SYSTEM_PYTHON, script, str(port), mount, str(clip)], port)


def mjpeg_server(port: int, clip: Path, fps: float = 10.0) -> CameraServer:
    return CameraServer([sys.executable, "-m", "tests.support.mjpeg_server", str(port), str(clip), str(fps)], port)
