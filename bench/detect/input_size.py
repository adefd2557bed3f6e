"""Detector input size: cost and accuracy of 640x640 vs the frame's own aspect vs larger inputs.

Speed (``--speed``): one OpenVINO backend (precision auto) on frames of every clip, and the
shipped graph run as it was before the cut (fixed 640x640, decode in the graph) for comparison;
every variant runs the same frames, variants alternate round by round (A B C D, A B C D ...)
so other processes' load hits them alike; median ms per frame per clip.

Accuracy: per variant and clip, the clip's model outputs are recorded once (cached, as
bench.accuracy does: OpenVINO at the default precision, every candidate >= 0.05) and replayed
through the product's tracker (services/detect/tracker.py, service defaults), without and with
the ignore regions ``storesight calibrate`` proposes from the same boxes (static figures):
PETS09-S2L1 IDF1/MOTA at IoU 0.5 and 0.3, CAVIAR per-frame count MAE and IDF1, Intel exact %
and tracks >= 1 s (6 visits), and the small labelled people (< 30 px tall in the frame) that a
detection >= ``detect.confidence`` covers at IoU >= 0.3.

``python -m bench.detect.input_size [--speed] [--rounds N] [--sizes frame:640,frame:960]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.accuracy.groundtruth import mot_boxes
from bench.accuracy.recorded import cached_recording
from bench.tracking.__main__ import Clip, calibrated_regions, caviar, clip_fps, intel, run, without_regions
from bench.tracking.candidates import DEFAULTS, ENTRIES
from bench.tracking.mot import iou
from services.detect.backends import OpenVinoBackend, people_in_image, resolve_model
from services.detect.letterbox import InputSize, input_shape, letterbox_batch
from storesight.video import every_nth_frame
from tests.support.servers import PETS_DIR

SMALL_PX = 30  # a labelled person shorter than this (frame pixels) is "small, far away"
ADOPTED = ENTRIES[1]  # the product's tracker with the product's settings


@dataclass(frozen=True)
class Variant:
    fit: str
    size: int

    @property
    def name(self) -> str:
        return f"{self.fit} {self.size}"

    def settings(self):
        return DEFAULTS.model_copy(update={"input_fit": self.fit, "input_size": self.size})


def parse_variants(text: str) -> list[Variant]:
    out = []
    for item in text.split(","):
        fit, size = item.split(":")
        out.append(Variant(fit, int(size)))
    return out


def pets_clip(every: int) -> Clip:
    """PETS09-S2L1 as bench.tracking scores it, without recording every frame to learn the frame count."""
    video = PETS_DIR / "vtest.avi"
    truth = mot_boxes(PETS_DIR / "gt.txt", sum(1 for _ in every_nth_frame(video, 1)))
    return Clip("PETS09-S2L1", video, every, truth, {i: len(f.ids) for i, f in truth.items() if i % every == 0})


def clips(pets_every: int, names: str = "pets,caviar,intel") -> list[Clip]:
    makers = {"pets": lambda: pets_clip(pets_every), "caviar": caviar, "intel": intel}
    return [makers[name]() for name in names.split(",")]


def boxes(clip: Clip, variant: Variant) -> list[tuple[int, np.ndarray, int, int]]:
    """(frame, (N, 5) pixel boxes >= the low confidence after NMS, width, height) from the recording."""
    out = []
    for index, output, placement in cached_recording(clip.video, clip.every, settings=variant.settings()):
        people = people_in_image(output, placement, DEFAULTS.track_low_confidence, DEFAULTS.iou)
        out.append((index, people, placement.width, placement.height))
    return out


def small_found(clip: Clip, frames) -> tuple[int, int]:
    """(small labelled people covered by a confident detection at IoU >= 0.3, small labelled people)."""
    if clip.truth_boxes is None:
        return 0, 0
    found = total = 0
    for index, dets, _, _ in frames:
        truth = clip.truth_boxes.get(index)
        if truth is None or len(truth.boxes) == 0:
            continue
        small = truth.boxes[(truth.boxes[:, 3] - truth.boxes[:, 1]) < SMALL_PX]
        total += len(small)
        confident = dets[dets[:, 4] >= DEFAULTS.confidence, :4]
        if len(small) and len(confident):
            found += int((iou(small, confident).max(axis=1) >= 0.3).sum())
    return found, total


def accuracy(variants: list[Variant], pets_every: int, names: str) -> list[str]:
    lines = ["| clip | input (fit, long side) | model input | IDF1 @0.5 | MOTA @0.5 | IDF1 @0.3 | MOTA @0.3 "
             "| count MAE | count exact | tracks >= 1 s | small (< 30 px) people found |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for clip in clips(pets_every, names):
        fps = clip_fps(clip.video)
        for variant in variants:
            started = time.monotonic()
            frames = boxes(clip, variant)
            found, total = small_found(clip, frames)
            width, height = frames[0][2], frames[0][3]
            shape = "x".join(map(str, input_shape(width, height, variant.size, variant.fit)))
            small = f"{found} of {total} ({found / total:.0%})" if total else "-"
            regions = calibrated_regions(frames, fps)
            for name, replay in ((variant.name, frames),
                                 (f"{variant.name} + calibrated regions ({len(regions)})",
                                  without_regions(frames, regions))):
                row = run(ADOPTED, clip, replay, fps)
                cells = []
                for th in (0.5, 0.3):
                    m = row.mot[th]
                    cells += ["-", "-"] if m is None else [f"{m.idf1:.3f}", f"{m.mota:.3f}"]
                lines.append(f"| {clip.name} | {name} | {shape} | {' | '.join(cells)} | {row.mae:.3f} | "
                             f"{row.exact:.1%} | {row.distinct} | {small} |")
                print(lines[-1], f"({time.monotonic() - started:.0f} s)", flush=True)
    return lines


class FullGraph:
    """The detector before this change: the shipped graph as it is (640x640, box decode in the graph)."""

    def __init__(self, model: Path, precision: str):
        import openvino as ov

        hint = "bf16" if precision == "bf16" else "f32"
        self.compiled = ov.Core().compile_model(str(model), "CPU", {"INFERENCE_PRECISION_HINT": hint,
                                                                    "PERFORMANCE_HINT": "THROUGHPUT"})
        self.requests = [self.compiled.create_infer_request()
                         for _ in range(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))]

    def detect(self, images: list[np.ndarray], sizes=None) -> None:
        pending = []
        for i, image in enumerate(images):
            request = self.requests[i % len(self.requests)]
            if len(pending) == len(self.requests):
                pending.pop(0)[0].wait()
            tensor, (placement,) = letterbox_batch([image], 640)
            request.start_async({0: tensor})
            pending.append((request, placement))
        for request, placement in pending:
            request.wait()
            people_in_image(request.get_output_tensor(0).data[0], placement, DEFAULTS.track_low_confidence,
                            DEFAULTS.iou)


def speed(variants: list[Variant], rounds: int, per_clip: int) -> list[str]:
    model = resolve_model("openvino", None)
    backend = OpenVinoBackend(model, 640, DEFAULTS.track_low_confidence, DEFAULTS.iou)
    before = FullGraph(model, backend.precision)
    variants = [Variant("full graph (before)", 640), *variants]
    sets = {}
    for clip in clips(1):
        every = max(1, 200 // per_clip)
        sets[clip.name] = [image for _, _, image in every_nth_frame(clip.video, every)][:per_clip]
    times: dict[tuple[str, str], list[float]] = {}

    def runner(variant: Variant):
        return before if variant.fit == "full graph (before)" else backend
    for images in sets.values():  # warm-up: every shape once
        for v in variants:
            runner(v).detect(images[:1], [InputSize(v.size, "square")])
    for r in range(rounds):
        order = variants[r % len(variants):] + variants[:r % len(variants)]
        for name, images in sets.items():
            for v in order:
                started = time.perf_counter()
                runner(v).detect(images, [InputSize(v.size, v.fit if v.fit in ("frame", "square") else "square")]
                                 * len(images))
                times.setdefault((name, v.name), []).append((time.perf_counter() - started) * 1000 / len(images))
        print(f"round {r + 1} of {rounds} done", flush=True)
    lines = ["| clip | input (fit, long side) | model input | ms per frame (median of rounds) | vs square 640 |",
             "|---|---|---|---|---|"]
    for name, images in sets.items():
        base = statistics.median(times.get((name, "square 640"), [float("nan")]))
        height, width = images[0].shape[:2]
        for v in variants:
            ms = statistics.median(times[(name, v.name)])
            fit = v.fit if v.fit in ("frame", "square") else "square"
            shape = "x".join(map(str, input_shape(width, height, v.size, fit)))
            lines.append(f"| {name} | {v.name} | {shape} | {ms:.1f} | {ms / base:.2f}x |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--speed", action="store_true", help="time the variants instead of scoring them")
    parser.add_argument("--sizes", default="square:640,frame:640,frame:960,frame:1280",
                        help="comma-separated fit:long-side variants")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--frames", type=int, default=4, help="--speed: frames per clip per round")
    parser.add_argument("--clips", default="pets,caviar,intel", help="comma-separated, of pets, caviar, intel")
    parser.add_argument("--pets-every", type=int, default=2,
                        help="PETS09: every N-th frame (default 2: 5 fps, the cameras' default rate)")
    args = parser.parse_args()
    variants = parse_variants(args.sizes)
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    started = time.monotonic()
    lines = speed(variants, args.rounds, args.frames) if args.speed else accuracy(variants, args.pets_every, args.clips)
    print("\n".join(lines))
    print(f"({time.monotonic() - started:.0f} s; load average before: {' '.join(load)}; "
          f"{Path('/proc/cpuinfo').read_text().count('processor')} CPUs)")


if __name__ == "__main__":
    main()
