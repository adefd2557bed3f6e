"""`storesight ingest` as a process: replica sharding from POD_NAME, frames on the real
frames topic, /metrics and /readyz, and a clean SIGTERM that reports its cameras down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import requests
import yaml

from storesight.broker import free_port
from storesight.topics import CAMERA_HEALTH, FRAMES, ensure_topics
from tests.integration.ingest.helpers import DOWN, Collector
from tests.support.servers import REPO


def test_replica_runs_its_shard_and_stops_cleanly(fresh_broker, intel_clip, tmp_path):
    ensure_topics(fresh_broker.bootstrap, (FRAMES, CAMERA_HEALTH))
    config = {"region": "test", "pipeline": {"ingest": {"replicas": 2, "health_interval_s": 0.5}},
              "stores": [{"id": "s1", "timezone": "UTC", "cameras": [
                  {"id": f"cam-{name}", "source": str(intel_clip), "fps": 2} for name in "abc"]}]}
    path = tmp_path / "region.yaml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    env = dict(os.environ, KAFKA_BOOTSTRAP=fresh_broker.bootstrap, STORESIGHT_HTTP_PORT=str(port),
               POD_NAME="ingest-1", PYTHONPATH=str(REPO))
    collector = Collector(fresh_broker.bootstrap, FRAMES, CAMERA_HEALTH)
    proc = subprocess.Popen([sys.executable, "-m", "tools", "ingest", "--config", str(path)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        collector.wait_for(lambda: len(collector.frames_of("cam-b")) >= 4, 30, "frames of cam-b")
        assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert 'storesight_ingest_frames_published_total{camera="cam-b"}' in metrics
        assert 'storesight_ingest_camera_up{camera="cam-b"} 1.0' in metrics
        # Replica 1 of 2 runs the second camera in id order only.
        assert {s.value.camera_id for s in collector.frames} == {"cam-b"}

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        stopped = time.monotonic()
        last = collector.wait_for(
            lambda: [h.value for h in collector.health_of("cam-b") if h.value.status == DOWN], 10, "DOWN on stop")
        assert last[-1].reason == "ingest stopped"
        assert time.monotonic() - stopped < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        collector.close()
    logs = proc.stderr.read()
    assert '"replica": 1' in logs and '"cameras": "cam-b"' in logs
