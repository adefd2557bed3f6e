"""Broken cameras are logged, counted and retried with backoff, and never slow the others:
a URL that accepts the connection but never answers, and a corrupt video file."""

from __future__ import annotations

import logging
import os
import socket
import time

from prometheus_client import REGISTRY

from tests.integration.ingest.helpers import DOWN, UP, RunningIngest, make_config

RUN_S = 7.0


def metric(name: str, camera: str) -> float:
    return REGISTRY.get_sample_value(name, {"camera": camera}) or 0.0


def test_silent_url_and_corrupt_file_do_not_disturb_a_good_camera(broker, intel_clip, tmp_path, caplog):
    silent = socket.socket()  # accepts TCP connections (backlog) but never says a word
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(200_000))
    config = make_config(broker.bootstrap, [
        {"id": "cam-good", "source": str(intel_clip), "fps": 5, "realtime": True},
        {"id": "cam-silent", "source": f"rtsp://127.0.0.1:{silent.getsockname()[1]}/x", "fps": 5},
        {"id": "cam-corrupt", "source": str(corrupt), "fps": 5},
    ])
    caplog.set_level(logging.WARNING)
    try:
        with RunningIngest(config, ["cam-good", "cam-silent", "cam-corrupt"], "bad") as ingest:
            c = ingest.collector
            time.sleep(RUN_S)
            assert ingest.service.dead_threads() is None
            good = c.frames_of("cam-good")
    finally:
        silent.close()

    # The good camera kept its pace: ~5 frames/s, never a gap while the others failed.
    assert len(good) >= 0.7 * 5 * RUN_S
    gaps = [b.at - a.at for a, b in zip(good, good[1:], strict=False)]
    assert max(gaps) < 1.0, f"good camera stalled for {max(gaps):.1f} s"
    assert any(h.value.status == UP for h in c.health_of("cam-good"))

    for camera, reason in (("cam-silent", "no answer"), ("cam-corrupt", "cannot open video file")):
        health = [h.value for h in c.health_of(camera)]
        assert health and all(h.status == DOWN for h in health), f"{camera} must only ever be down"
        assert any(reason in h.reason for h in health), {h.reason for h in health}
        assert not c.frames_of(camera)
        assert metric("storesight_ingest_source_errors_total", camera) >= 1
        assert any(getattr(r, "camera", None) == camera and r.levelno == logging.WARNING for r in caplog.records)
    # Backoff, not a crash loop: a corrupt file fails instantly, yet is retried only a few times;
    # and at least twice, so the silent camera never held the other cameras' (re)opens.
    attempts = metric("storesight_ingest_reconnects_total", "cam-corrupt")
    assert 2 <= attempts <= 12, attempts
    # The silent URL is given up on after the probe timeout, then retried with backoff.
    assert metric("storesight_ingest_source_errors_total", "cam-silent") >= 2
