"""``storesight demo --no-live`` as a user runs it: start-up time, live counts (also on the
console's live view), an SMS, clean Ctrl-C.

The real pipeline on the Intel clip sampled at 1 fps, so the CPU detector keeps up on a shared
machine (its first visitor stands at the table from ~7 s, the demo's
rule fires after 8 s of it). Once the SMS has been printed the test presses Ctrl-C (SIGINT) and
checks that every process the demo started is gone. Without ../shared (as on a fresh clone) the
demo plays OpenCV's vtest.avi and its counts are checked against the clip's truth; without that
clip either, it generates a synthetic store.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from tests.support.console import Client
from tests.support.servers import REPO

LIMIT_S = 110  # --duration: the demo ends itself even if the SMS never comes


def processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "stat").read_text().split(") ")[-1][:1]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(f"{proc.name}: {cmdline}")
    return found


@pytest.mark.slow
def test_demo_starts_fast_shows_live_counts_and_an_sms_and_stops_cleanly(intel_clip, tmp_path):
    workdir = tmp_path / "demo"
    prefix = f"storesight:test-demo-{secrets.token_hex(4)}:"  # a shared Redis: keys of our own
    began = time.monotonic()
    demo = subprocess.Popen(
        [sys.executable, "-m", "tools", "demo", "--no-live", "--duration", str(LIMIT_S), "--every", "2", "--fps", "1",
         "--workdir", str(workdir), "--redis-prefix", prefix],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "200"})
    lines: list[str] = []
    seen = threading.Event()
    console_seen: list[float | None] = []  # the table's occupancy as the console's live API shows it

    def watch_console(url: str, password: str) -> None:
        client = Client(SimpleNamespace(url=url.rstrip("/")))
        client.get("/login")
        client.post("/login", data={"username": "demo", "password": password, "csrf_token": client.csrf})
        while demo.poll() is None and not seen.is_set():
            try:
                reply = client.get("/api/stores/demo-store/live")
            except requests.ConnectionError:
                return  # the demo is stopping
            if reply.status_code == 200:
                zones = {z["id"]: z for z in reply.json()["zones"]}
                console_seen.append(zones["table"]["occupancy"])
            time.sleep(1.0)

    def read() -> None:
        for line in demo.stdout:
            lines.append(line.rstrip("\n"))
            console = re.match(r"console: (http://localhost:\d+/) \(user demo, password (\S+)\)", lines[-1])
            if console:
                threading.Thread(target=watch_console, args=console.groups(), daemon=True).start()
            text = "\n".join(lines)
            # The peer may get the SMS before the alerts service publishes the transition.
            if "SMS to +155***0100" in text and "incident FIRED" in text:
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    seen.wait(LIMIT_S + 30)
    interrupted = demo.poll() is None
    if interrupted:
        demo.send_signal(signal.SIGINT)  # Ctrl-C
    demo.wait(60)
    reader.join(5)
    output = "\n".join(lines)
    print(output)
    assert demo.returncode == 0, output

    startup = re.search(r"start-up: ([\d.]+) s", output)
    assert startup and float(startup.group(1)) < 60, output
    assert "Redis: using Redis at" in output or "started a local Redis" in output
    # Live counts from Redis: the visitor stands at the table.
    assert re.search(r"table ok occ=1 ", output), output
    # The rule fired: the incident line and the SMS the local Twilio peer received (masked number).
    assert "incident FIRED table-busy on table" in output
    # The console started with the demo, printed its address, and its live view followed the counts.
    assert 1 in console_seen and len(set(console_seen)) >= 2, console_seen
    sms = [line for line in lines if "SMS to +155***0100" in line]
    assert sms and "table" in sms[0] and "occupancy" in sms[0]
    assert interrupted and "stopped (Ctrl-C)" in output, "the SMS came too late to test Ctrl-C"
    assert "no process left behind" in output
    # The rate was forced (--fps 1) and said so; the summary gives the detector's own counts.
    assert "camera rate forced by --fps: 1 fps" in output
    summary = re.search(r"camera rate 1 fps \(--fps\); detector: cam-table: ([\d.]+|unknown) fps effective, "
                        r"processed (\d+), skipped (\d+)", output)
    assert summary and int(summary.group(2)) > 0, output
    # Independently of what the demo says: nothing started for this run is still running.
    config_text = (workdir / "run-config.yaml").read_text()
    bootstrap = re.search(r"bootstrap: (\S+)", config_text).group(1)
    assert processes_mentioning(str(workdir)) == []
    assert processes_mentioning(f"tcp://{bootstrap}") == []
    print(f"demo test wall time {time.monotonic() - began:.0f} s")


@pytest.mark.slow
def test_without_shared_the_demo_plays_real_people_and_its_counts_match_the_clips_truth(tmp_path):
    """A newcomer's ``make demo``: no ../shared (hidden by STORESIGHT_DEMO_WITHOUT_SHARED), every
    other setting at its default (the camera rate chosen from the detector's measured rate). The
    demo plays OpenCV's vtest.avi to its end and prints every zone's and line's entries/exits
    beside the clip's truth: each within 1 of it."""
    from tools.demo import sample_clip

    clip = sample_clip()
    assert clip is not None, "OpenCV's vtest.avi is missing: `make setup` (sample-clip) extracts it from opencv-doc"
    workdir = tmp_path / "demo"
    began = time.monotonic()
    demo = subprocess.run(
        [sys.executable, "-m", "tools", "demo", "--no-live", "--no-console", "--every", "10", "--duration", "300",
         "--workdir", str(workdir), "--redis-prefix", f"storesight:test-demo-{secrets.token_hex(4)}:"],
        cwd=REPO, capture_output=True, text=True, timeout=420,
        env={**os.environ, "STORESIGHT_DEMO_WITHOUT_SHARED": "1", "COLUMNS": "200"})
    output = demo.stdout + demo.stderr
    print(output)
    assert demo.returncode == 0, output
    assert f"playing OpenCV's sample clip {clip}" in output
    assert "demo ended: the clip ended" in output, "the truth is the whole clip's: the demo must play all of it"
    assert re.search(r"camera rate chosen: [\d.]+ fps", output), output
    compared = dict(re.findall(r"^  ((?:line:)?[\w-]+): live \d+ in / \d+ out, truth .*\(off by ([+-]\d+ / [+-]\d+)\)$",
                               output, flags=re.M))
    assert set(compared) == {"lawn", "line:walkway"}, output
    assert "no process left behind" in output
    print(f"walkway demo test wall time {time.monotonic() - began:.0f} s")
    off = {zone: [int(v) for v in text.split(" / ")] for zone, text in compared.items()}
    if not all(abs(v) <= 1 for values in off.values() for v in values):
        # Known and measured (bench/ACCURACY.md, "Demo walkway"): issue 15 stays open on this.
        rate = re.search(r"camera rate chosen: ([\d.]+) fps", output).group(1)
        pytest.xfail(f"counts off by more than 1 ({off}) at {rate} fps: below 4 frames/s the tracker loses the "
                     "walkway's crossings, and duplicate/switched tracks add lawn entries (bench.walkway)")


@pytest.mark.slow
def test_without_either_clip_the_demo_runs_on_a_generated_synthetic_store(tmp_path, monkeypatch):
    from storesight.config import load_config
    from tools import demo as demo_module
    from tools.demo import choose_clip, missing_clips

    config_text = (REPO / "examples" / "demo-store.yaml").read_text()
    missing = tmp_path / "demo-store.yaml"
    missing.write_text(config_text.replace("../../shared/data/intel-one-by-one/", "no-such-folder/"))
    absent = missing_clips(load_config(missing))
    assert [camera for camera, _ in absent] == ["cam-table"]
    monkeypatch.setattr(demo_module, "OPENCV_DOC_CLIP", tmp_path / "no-opencv-doc" / "vtest.avi")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    config_path, truth = choose_clip(missing, tmp_path)
    replacement = load_config(config_path)
    assert truth is None and "synth" in str(config_path)
    assert missing_clips(replacement) == []
    store = replacement.stores[0]
    assert any(zone.kind.value == "queue" for camera in store.cameras for zone in camera.zones)
    assert store.rules, "the synthetic store comes with its queue rule"
