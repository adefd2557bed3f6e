"""Ingest against real camera servers: a GStreamer RTSP server, an HTTP MJPEG server and a
folder receiving stills. Each is killed (or removed) mid-stream and brought back: frames must
resume within 5 s of its return, and CameraHealth must go down, then up."""

from __future__ import annotations

import datetime as dt
import os
import time

import cv2
import pytest

from storesight.broker import free_port
from tests.integration.ingest.helpers import DOWN, UP, RunningIngest, capture_dt, make_config
from tests.support.camera_servers import gstreamer_rtsp_available, mjpeg_server, rtsp_server
from tests.support.mjpeg_server import load_jpegs

RESUME_WITHIN_S = 5.0


def assert_kill_and_restart(ingest: RunningIngest, camera: str, kill, restart) -> None:
    c = ingest.collector
    c.wait_for(lambda: len(c.frames_of(camera)) >= 5, 20, "first frames")
    frames = [s.value for s in c.frames_of(camera)]
    assert all(f.camera_id == camera and f.store_id == "s1" for f in frames)
    seqs = [f.seq for f in frames]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "seq must increase by one per frame"
    assert all(f.width <= 768 and f.jpeg[:2] == b"\xff\xd8" for f in frames)
    assert any(h.value.status == UP for h in c.health_of(camera))

    kill()
    killed_at = time.monotonic()
    c.wait_for(lambda: any(h.value.status == DOWN and h.at > killed_at for h in c.health_of(camera)),
               10, "CameraHealth DOWN after the server died")
    down = next(h.value for h in c.health_of(camera) if h.value.status == DOWN and h.at > killed_at)
    assert down.reason and down.HasField("last_frame_time")
    time.sleep(1.0)  # a few reconnects fail while it is gone
    last_seq = max(s.value.seq for s in c.frames_of(camera))

    restart()
    back_at = time.monotonic()
    resumed = c.wait_for(lambda: [s for s in c.frames_of(camera) if s.value.seq > last_seq], 15,
                         "frames after the server came back")
    print(f"{camera}: frames resumed {resumed[0].at - back_at:.2f} s after the source came back")
    assert resumed[0].at - back_at < RESUME_WITHIN_S, f"resumed after {resumed[0].at - back_at:.1f} s"
    up_again = c.wait_for(lambda: [h.value for h in c.health_of(camera)
                                   if h.value.status == UP and h.at > killed_at], 5, "UP again")
    assert up_again[-1].reconnects >= 1


@pytest.mark.skipif(not gstreamer_rtsp_available(), reason="Debian GStreamer RTSP server not installed")
def test_rtsp_camera_down_then_up_when_server_dies_and_returns(broker, intel_clip):
    port = free_port()
    server = rtsp_server(port, intel_clip).start()
    config = make_config(broker.bootstrap, [{"id": "cam-rtsp", "source": f"rtsp://127.0.0.1:{port}/cam", "fps": 5}])
    try:
        with RunningIngest(config, ["cam-rtsp"], "rtsp") as ingest:
            assert_kill_and_restart(ingest, "cam-rtsp", server.kill, server.start)
    finally:
        server.kill()


def test_mjpeg_camera_down_then_up_when_server_dies_and_returns(broker, intel_clip):
    port = free_port()
    server = mjpeg_server(port, intel_clip).start()
    config = make_config(broker.bootstrap, [
        {"id": "cam-mjpeg", "source": f"http://127.0.0.1:{port}/stream.mjpg", "fps": 5}])
    try:
        with RunningIngest(config, ["cam-mjpeg"], "mjpeg") as ingest:
            assert_kill_and_restart(ingest, "cam-mjpeg", server.kill, server.start)
            # The camera's JPEGs (384 wide, within max_width) are sent as the camera made them:
            # read undecoded, never decoded or re-encoded.
            served = set(load_jpegs(str(intel_clip)))
            assert all(s.value.jpeg in served for s in ingest.collector.frames_of("cam-mjpeg"))
    finally:
        server.kill()


def test_folder_camera_reads_new_stills_in_capture_order_and_survives_removal(broker, intel_clip, tmp_path):
    cap = cv2.VideoCapture(str(intel_clip))
    images = [cap.read()[1] for _ in range(3)]
    cap.release()
    folder, away = tmp_path / "motion", tmp_path / "motion-away"
    folder.mkdir()
    cv2.imwrite(str(folder / "20261121085959-00.jpg"), images[0])  # there before start: not replayed

    def drop(name: str, image=None, garbage: bytes | None = None) -> None:
        staging = tmp_path / ("staging-" + name)
        if garbage is not None:
            staging.write_bytes(garbage)
        else:
            cv2.imwrite(str(staging), image)
        os.replace(staging, folder / name)  # arrives whole, like a sync tool's rename

    config = make_config(broker.bootstrap, [{"id": "cam-dir", "source": f"dir://{folder}", "fps": 10}])
    with RunningIngest(config, ["cam-dir"], "folder") as ingest:
        c = ingest.collector
        time.sleep(0.5)
        # One synced batch, written newest first: published oldest first, by the names' timestamps.
        drop("20261121090003-00.jpg", images[2])
        drop("20261121090001-00.jpg", images[0])
        drop("20261121090002-01.jpg", images[1])
        drop("20261121090004-00.jpg", garbage=b"not a jpeg" * 100)  # logged, counted, skipped
        c.wait_for(lambda: len(c.frames_of("cam-dir")) >= 3, 10, "three stills")
        times = [capture_dt(s.value) for s in c.frames_of("cam-dir")]
        t0 = dt.datetime(2026, 11, 21, 9, 0, 1, tzinfo=dt.UTC)
        assert times == [t0, t0 + dt.timedelta(seconds=1), t0 + dt.timedelta(seconds=2)]

        def kill():
            folder.rename(away)

        def restart():
            away.rename(folder)
            drop("20261121090010-00.jpg", images[0])

        drop("20261121090005-00.jpg", images[1])
        drop("20261121090006-00.jpg", images[2])
        assert_kill_and_restart(ingest, "cam-dir", kill, restart)
    from prometheus_client import REGISTRY
    assert REGISTRY.get_sample_value("storesight_ingest_source_errors_total", {"camera": "cam-dir"}) >= 2
