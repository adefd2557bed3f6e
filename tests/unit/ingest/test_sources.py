"""Source selection from the camera URL, and failures that must be reasons, not crashes."""

from __future__ import annotations

import os

import pytest

from services.ingest.sources import (
    FileSource,
    FolderSource,
    LiveSource,
    SourceError,
    open_source,
    source_kind,
)
from storesight.config import Camera


@pytest.mark.parametrize(("url", "kind"), [
    ("/data/clip.mp4", "file"), ("file:///data/clip.avi", "file"), ("rtsp://10.0.0.5:554/stream1", "rtsp"),
    ("http://10.0.0.6/video.mjpg", "mjpeg"), ("https://cam/mjpeg", "mjpeg"), ("dir:///srv/motion/cam1", "folder"),
    ("device://0", "device")])
def test_source_kind_from_url(url, kind):
    assert source_kind(url) == kind


def test_open_source_builds_the_matching_source(tmp_path):
    assert isinstance(open_source(Camera(id="a", source=f"file://{tmp_path}/x.mp4")), FileSource)
    assert isinstance(open_source(Camera(id="b", source=f"dir://{tmp_path}")), FolderSource)
    device = open_source(Camera(id="c", source="device://3"))
    assert isinstance(device, LiveSource) and device.device == 3


@pytest.mark.skipif(os.path.exists("/dev/video7"), reason="a real /dev/video7 exists")
def test_missing_device_is_a_reason_not_a_crash():
    with pytest.raises(SourceError, match="cannot open device"):
        open_source(Camera(id="d", source="device://7")).open()


def test_missing_file_and_folder_are_reasons(tmp_path):
    with pytest.raises(SourceError, match="file not found"):
        open_source(Camera(id="e", source=str(tmp_path / "nope.mp4"))).open()
    with pytest.raises(SourceError, match="folder missing"):
        open_source(Camera(id="f", source=f"dir://{tmp_path}/nope")).open()


def test_probe_fails_fast_on_a_server_that_never_answers_or_refuses():
    import socket
    import time

    from services.ingest.sources import probe_stream

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    port = silent.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(SourceError, match="no answer within 0.3 s"):
        probe_stream(f"rtsp://127.0.0.1:{port}/x", timeout_s=0.3)
    assert time.monotonic() - started < 2
    silent.close()
    with pytest.raises(SourceError, match="cannot connect"):
        probe_stream(f"http://127.0.0.1:{port}/x.mjpg", timeout_s=0.3)


def test_probe_accepts_any_answer(tmp_path):
    import socket
    import threading

    from services.ingest.sources import probe_stream

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def answer():
        conn, _ = server.accept()
        conn.recv(1024)
        conn.sendall(b"RTSP/1.0 401 Unauthorized\r\nCSeq: 1\r\n\r\n")
        conn.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    probe_stream(f"rtsp://127.0.0.1:{server.getsockname()[1]}/cam", timeout_s=2)
    thread.join(2)
    server.close()
