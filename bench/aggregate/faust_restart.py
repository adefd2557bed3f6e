"""Does a faust-streaming table count every record once across a SIGKILL? (Measured, not argued.)

    python -m bench.aggregate.faust_restart [--messages 20000]

On a fresh embedded broker: load ``--messages`` detection records, start a faust worker whose
agent adds 1 per record to a per-camera table (the settings from KafkaSettings), SIGKILL it half
way, start it again under the same app id (same group, same changelog) and let it finish. The
table's total should equal the number of records; more is double counting, less is loss. The
aggregate worker's own answer to the same test is tests/integration/test_aggregate_service.py
(SIGKILL mid-window: exact).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

APP_ID = "faust-restart-probe"


def _agent(bootstrap: str, result_path: str) -> None:
    from bench.aggregate.faust_probe import faust_app, report, run_worker
    from storesight.contracts import Detections

    app, topic, counts = faust_app(bootstrap, APP_ID)
    processed = {"n": 0}

    @app.agent(topic)
    async def consume(stream):
        async for _key, raw in stream.items():
            msg = Detections()
            msg.ParseFromString(raw)
            counts[msg.camera_id] += 1
            processed["n"] += 1

    @app.timer(0.5)
    async def tick():
        report(result_path, {"pid": os.getpid(), "processed": processed["n"], "table_total": sum(counts.values())})

    run_worker(app)


def _reports(path: str) -> list[dict]:
    try:
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except FileNotFoundError:
        return []


def _start(bootstrap: str, path: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bench.aggregate.faust_restart", "--agent", bootstrap, path],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _latest(path: str, pid: int) -> dict | None:
    mine = [r for r in _reports(path) if r["pid"] == pid]
    return mine[-1] if mine else None


def run(messages: int, kill_at: float = 0.5, settle_s: float = 20.0, timeout_s: float = 900.0) -> dict:
    from bench.aggregate.__main__ import synthetic
    from storesight.broker import EmbeddedBroker, free_port
    from storesight.topics import ensure_topics
    from tests.support.bus import send_detections

    path = tempfile.mktemp(prefix="faust-restart-", suffix=".jsonl")
    deadline = time.monotonic() + timeout_s
    with EmbeddedBroker(port=free_port()) as broker:
        ensure_topics(broker.bootstrap)
        send_detections(broker.bootstrap, synthetic(messages, time.time() - 600), "faust-restart")
        first = _start(broker.bootstrap, path)
        try:
            while (_latest(path, first.pid) or {}).get("processed", 0) < kill_at * messages:
                if first.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("faust worker stopped before the kill point")
                time.sleep(0.1)
            before = _latest(path, first.pid)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
        second = _start(broker.bootstrap, path)
        try:
            # Done when the restarted worker's table total has not moved for settle_s.
            last, since = None, time.monotonic()
            while time.monotonic() - since < settle_s:
                if second.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("restarted faust worker stopped or never settled")
                now = _latest(path, second.pid)
                if now is not None and now != last:
                    last, since = now, time.monotonic()
                time.sleep(0.2)
        finally:
            second.kill()
            second.wait(10)
    os.unlink(path)
    return {"messages": messages, "killed_after": before["processed"], "table_at_kill": before["table_total"],
            "reprocessed_after_restart": last["processed"], "table_total": last["table_total"]}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--agent"]:
        _agent(argv[1], argv[2])
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.aggregate.faust_restart")
    parser.add_argument("--messages", type=int, default=20_000)
    args = parser.parse_args(argv)
    r = run(args.messages)
    extra = r["table_total"] - r["messages"]
    print(f"faust table after SIGKILL at {r['killed_after']:,} of {r['messages']:,} records and a restart: "
          f"total {r['table_total']:,} (the restarted worker processed {r['reprocessed_after_restart']:,}); "
          f"{'double counted' if extra > 0 else 'lost' if extra < 0 else 'exact'}: {abs(extra):,} records "
          f"({abs(extra) / r['messages']:.1%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
