"""CPU an idle consumer burns, by fetch wait: what `kafka.fetch_max_wait_ms` costs when no data flows.

    python -m bench.idle [--seconds 20] [--waits 10,100,500]

A TypedConsumer in a group on an empty topic polls in a loop, as every service does between
messages, for ``--seconds`` per setting; the CPU time of the process is measured. The embedded
broker answers a fetch only after the full wait (toolchain.md), so there a short wait is what
keeps per-hop latency low. Real Kafka answers as soon as one byte is there, so a long wait costs
no latency and saves this CPU (deploy/k8s overlays set 500 ms).
"""

from __future__ import annotations

import argparse
import os
import time
import uuid

from storesight.bus import TypedConsumer
from storesight.config import KafkaSettings
from storesight.topics import ZONE_STATS, ensure_topics


def idle_cpu_share(bootstrap: str, wait_ms: int, seconds: float) -> float:
    """CPU seconds per wall second of one idle consumer."""
    settings = KafkaSettings(bootstrap=bootstrap, fetch_max_wait_ms=wait_ms)
    consumer = TypedConsumer(settings, [ZONE_STATS], f"idle-{uuid.uuid4().hex[:6]}", "idle-bench")
    try:
        deadline = time.monotonic() + 15
        while not consumer.assignment() and time.monotonic() < deadline:
            consumer.poll(timeout_ms=200)
        start, cpu = time.monotonic(), time.process_time()
        while time.monotonic() - start < seconds:
            consumer.poll(timeout_ms=200)  # what a service's step does with nothing to read
        return (time.process_time() - cpu) / (time.monotonic() - start)
    finally:
        consumer.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.idle")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--waits", default="10,100,500", help="fetch_max_wait_ms values, comma separated")
    args = parser.parse_args(argv)
    waits = [int(w) for w in args.waits.split(",")]

    from storesight.broker import EmbeddedBroker, free_port

    print(f"cpu cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    with EmbeddedBroker(port=free_port()) as broker:
        ensure_topics(broker.bootstrap)
        results = {w: idle_cpu_share(broker.bootstrap, w, args.seconds) for w in waits}
    base = results[waits[0]]
    for wait, share in results.items():
        print(f"fetch_max_wait_ms {wait:>4}: an idle consumer uses {share:.1%} of a core "
              f"({share / base:.2f}x of {waits[0]} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
