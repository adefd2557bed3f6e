"""``storesight synth``: write a synthetic store clip with its ground truth and store config."""

from __future__ import annotations

import argparse


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT, e.g. 768x432") from None
    if width < 160 or height < 90:
        raise argparse.ArgumentTypeError("the frame must be at least 160x90")
    return width, height


def _cmd_multicam(args: argparse.Namespace) -> int:
    from tools.synth.multicam import write

    sc = write(args.out, fps=args.fps)
    last = sc.truth["windows"][-1]
    print(f"wrote {args.out}/store.yaml, detections.jsonl ({len(sc.frames)} camera frames) and truth.json: "
          f"{sc.truth['customers']} customers, {sc.truth['staff']} staff, {len(sc.truth['windows'])} windows, "
          f"footfall {last['footfall_day']}, occupancy at the end {last['occupancy']} (detections only: no video)")
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from tools.synth.render import generate

    if args.scenario == MULTICAM:
        return _cmd_multicam(args)
    width, height = args.size
    try:
        result = generate(args.out, scenario=args.scenario, seed=args.seed, people_source=args.people,
                          background=args.background, fps=args.fps, width=width, height=height)
    except OSError as exc:
        print(f"synth: {exc}")
        return 1
    summary = result.truth.summary()
    print(f"wrote {result.video} ({summary['frames']} frames, {summary['duration_s']:.1f} s, "
          f"{width}x{height} at {args.fps:g} fps) in {result.seconds:.1f} s")
    print(f"people: {summary['people']} from the {result.people_source} source; entries {summary['entries']}, "
          f"exits {summary['exits']}; max queue {summary['max_queue_length']} "
          f"(rule > {summary['queue_rule']['threshold']}: {summary['expected_queue_incidents']} incident(s))")
    if result.people_source == "packaged":
        why = "../shared/data is absent, so " if args.people == "auto" else ""
        print(f"note: {why}people are the packaged portrait on drawn bodies (weaker than the Intel people)")
    print(f"ground truth: {result.truth_summary} and {result.truth_frames}")
    print(f"store config: {result.config} (storesight config check {result.config})")
    return 0


MULTICAM = "store-multicam"


def register(sub) -> None:
    from tools.synth.script import SCENARIOS

    synth = sub.add_parser("synth", help="write a synthetic store clip with exact ground truth")
    synth.add_argument("--out", required=True, help="output folder (created)")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--scenario", choices=sorted([*SCENARIOS, MULTICAM]), default="queue",
                       help=f"{MULTICAM}: three overlapping cameras, two doors, staff; detections only (no video)")
    synth.add_argument("--people", choices=["auto", "intel", "packaged"], default="auto",
                       help="person images: the Intel clip in ../shared/data (auto when present) or the "
                            "photo shipped with matplotlib (weaker)")
    synth.add_argument("--background", choices=["store", "intel"], default="store")
    synth.add_argument("--fps", type=float, default=10.0)
    synth.add_argument("--size", type=_size, default=(768, 432), help="WIDTHxHEIGHT (default 768x432)")
    synth.set_defaults(func=_cmd_synth)
