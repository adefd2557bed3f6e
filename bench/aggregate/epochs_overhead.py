"""What the detect-restart logic (services/aggregate/epochs.py) costs the aggregate core per frame.

``python -m bench.aggregate.epochs_overhead``: decode + convert + ``Aggregator.process`` over the
synthetic workload of ``bench.aggregate`` (4 cameras x 4 people, every frame with a tracker epoch),
once with ``EpochStitcher.frame`` as it is and once with it replaced by a pass-through, alternated
(A B A B A B); prints messages per CPU-second of each run and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from bench.aggregate.__main__ import bench_config, synthetic
from services.aggregate import epochs
from services.aggregate.aggregator import Aggregator
from services.aggregate.convert import frame_from_proto
from storesight.contracts import Detections


def _passthrough(self, state, epoch, t, track_ids, feet, open_tracks):
    return track_ids


def run(payloads: list[bytes], stitch: bool) -> float:
    real = epochs.EpochStitcher.frame
    if not stitch:
        epochs.EpochStitcher.frame = _passthrough
    try:
        aggregator = Aggregator(bench_config())
        cpu = time.process_time()
        for i in range(0, len(payloads), 2000):
            batch = []
            for raw in payloads[i:i + 2000]:
                msg = Detections()
                msg.ParseFromString(raw)
                batch.append(frame_from_proto(msg))
            aggregator.process(batch)
        return len(payloads) / (time.process_time() - cpu)
    finally:
        epochs.EpochStitcher.frame = real


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.aggregate.epochs_overhead")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    msgs = synthetic(args.messages, 1_800_000_000.0)
    for msg in msgs:
        msg.tracker_epoch = "e1"
    payloads = [m.SerializeToString() for m in msgs]
    print(f"cpu cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
    results: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(args.rounds):
        for stitch in (False, True):
            results[stitch].append(run(payloads, stitch))
    for stitch, name in ((False, "without epochs.py"), (True, "with epochs.py")):
        print(f"{name}: " + ", ".join(f"{r:,.0f}" for r in results[stitch]) + " msg per CPU-second")
    ratio = statistics.median(results[True]) / statistics.median(results[False])
    print(f"ratio with/without (medians): {ratio:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
