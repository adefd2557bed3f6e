"""The shared service runner: endpoints, readiness, health checks, SIGTERM in a real process."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import requests

from storesight.service import ServiceRunner

CHILD = r'''
import sys, time
from storesight.service import start_service
runner = start_service("test-svc", port=0)
print(runner.port, flush=True)
runner.set_ready()
batches = 0
while not runner.stopping.is_set():
    time.sleep(0.05)
    batches += 1
print("finished batch and closed", flush=True)
runner.close()
'''


def test_endpoints_and_readiness():
    runner = ServiceRunner("t", port=0, install_signals=False)
    port = runner.serve_http()
    base = f"http://127.0.0.1:{port}"
    try:
        assert requests.get(base + "/healthz", timeout=5).status_code == 200
        assert requests.get(base + "/readyz", timeout=5).status_code == 503
        runner.set_ready()
        assert requests.get(base + "/readyz", timeout=5).status_code == 200
        problem = {"now": None}
        runner.add_health_check(lambda: problem["now"])
        problem["now"] = "broker unreachable"
        reply = requests.get(base + "/healthz", timeout=5)
        assert reply.status_code == 503 and "broker unreachable" in reply.text
        assert "python_info" in requests.get(base + "/metrics", timeout=5).text
        runner.add_route("/ack/", lambda path, query: (200, "text/plain", path.encode()))
        assert requests.get(base + "/ack/abc", timeout=5).text == "/ack/abc"
        assert requests.get(base + "/nope", timeout=5).status_code == 404
        runner.stopping.set()
        assert requests.get(base + "/readyz", timeout=5).status_code == 503
    finally:
        runner.close()


def test_sigterm_lets_the_loop_finish_and_logs_json():
    proc = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                break
        except requests.ConnectionError:
            time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "finished batch and closed" in out
    assert '"msg": "stopping on signal"' in err and '"service": "test-svc"' in err
