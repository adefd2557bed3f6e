"""``make bench``: run every service benchmark and write bench/RESULTS.md from their output.

Each benchmark prints its own numbers and in-run comparisons (ratios); this runner only
records the command, the machine and the output, so RESULTS.md always matches a real run.
The RESULTS-<name>.md files beside it hold each benchmark's discussion.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (name, module arguments): run as `python -m bench.<name> ...` from the repository root.
BENCHMARKS: list[tuple[str, list[str]]] = [
    ("ingest", []),
    ("detect", ["--frames", "32", "--batch", "8", "--rounds", "1"]),
    ("accuracy", []),
    ("tracking", []),
    ("overload", []),
    ("aggregate", ["--messages", "60000", "--latency-messages", "400", "--faust"]),
    ("alerts", ["--trials", "100"]),
    ("archive", ["--days", "365", "--repeats", "2"]),
    ("sentiment", ["--frames", "80"]),
    ("pipeline", []),
    ("idle", []),
]


def _machine() -> str:
    load = os.getloadavg()[0]
    return (f"{platform.node()}: {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}, "
            f"load average {load:.1f} at start")


def run(names: list[str]) -> str:
    parts = [
        "# Benchmark results",
        "",
        f"Written by `make bench` (`python -m bench`) on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC.",
        f"Machine: {_machine()}.",
        "Discussion of each benchmark: bench/RESULTS-<name>.md.",
        "",
    ]
    for name, extra in BENCHMARKS:
        if names and name not in names:
            continue
        command = [sys.executable, "-m", f"bench.{name}", *extra]
        shown = " ".join(["python", "-m", f"bench.{name}", *extra])
        print(f"== {shown}", flush=True)
        started = time.monotonic()
        proc = subprocess.run(command, cwd=HERE.parent, capture_output=True, text=True)
        took = time.monotonic() - started
        print(proc.stdout, end="", flush=True)
        if proc.returncode != 0:
            print(proc.stderr[-4000:], file=sys.stderr)
        status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
        parts += [f"## {name}", "", f"Command: `{shown}` ({took:.0f} s, {status})", "", "```",
                  proc.stdout.rstrip(), "```", ""]
    return "\n".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="only these benchmarks (default: all)")
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"))
    args = parser.parse_args()
    Path(args.out).write_text(run(args.names))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
