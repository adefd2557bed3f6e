"""Trackers side by side on the same detector boxes; prints one table and writes it to bench/ACCURACY.md.

The product's detector (ONNX Runtime, default settings, every box >= 0.05 kept with its
score) runs once per clip and is cached (bench/accuracy/recorded.py); every tracker then
replays exactly those boxes. Clips: PETS09-S2L1 (MOTChallenge boxes and ids, every frame),
CAVIAR OneLeaveShop1cor (CVML boxes and ids, every frame) and Intel one-by-one (per-frame
counts and 6 visits, every 2nd frame = 5 fps). ``python -m bench.tracking [--no-write]``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.accuracy.__main__ import CAVIAR_IGNORE
from bench.accuracy.groundtruth import TruthFrame, caviar_boxes, intel_counts, intel_visits, mot_boxes
from bench.accuracy.recorded import cached_recording
from bench.tracking.candidates import DEFAULTS, ENTRIES, Entry
from bench.tracking.mot import MotScore, _drop_on_ignored, score_mot
from services.detect.backends import people_in_image
from services.detect.fixtures import propose_regions
from services.detect.pipeline import normalise
from services.detect.regions import drop_ignored
from tests.support.servers import CAVIAR_DIR, INTEL_CLIP, INTEL_DIR, PETS_DIR

ACCURACY = Path(__file__).resolve().parents[1] / "ACCURACY.md"
MARK = "## Trackers on the same detector boxes"


@dataclass
class Clip:
    name: str
    video: Path
    every: int
    truth_boxes: dict[int, TruthFrame] | None = None
    counts: dict[int, int] = field(default_factory=dict)
    visits: list | None = None


@dataclass(frozen=True)
class Row:
    clip: str
    tracker: str
    mot: dict[float, MotScore | None]
    mae: float
    exact: float
    distinct: int  # track ids seen for >= 1 s
    per_visit: str  # Intel: distinct long tracks inside each labelled visit
    ms_per_frame: float


def clip_fps(video: Path) -> float:
    import cv2

    capture = cv2.VideoCapture(str(video))
    fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
    capture.release()
    return fps if 0 < fps < 1000 else 25.0


def pets() -> Clip:
    video = PETS_DIR / "vtest.avi"
    truth = mot_boxes(PETS_DIR / "gt.txt", len(cached_recording(video, 1)))
    return Clip("PETS09-S2L1", video, 1, truth, {i: len(f.ids) for i, f in truth.items()})


def caviar() -> Clip:
    truth = caviar_boxes(CAVIAR_DIR / "cols1gt.xml")
    return Clip("CAVIAR OneLeaveShop1cor", CAVIAR_DIR / "OneLeaveShop1cor.mpg", 1, truth,
                {i: len(f.ids) for i, f in truth.items()})


def intel() -> Clip:
    return Clip("Intel one-by-one (5 fps)", INTEL_CLIP, 2, None, intel_counts(INTEL_DIR),
                [(v.first_frame, v.last_frame) for v in intel_visits(INTEL_DIR)])


CLIPS = {"pets": pets, "caviar": caviar, "intel": intel}


def raw_boxes(clip: Clip) -> list[tuple[int, np.ndarray, int, int]]:
    """(frame index, (N, 5) pixel boxes >= the low confidence after NMS, width, height) per frame."""
    out = []
    for index, output, placement in cached_recording(clip.video, clip.every):
        people = people_in_image(output, placement, DEFAULTS.track_low_confidence, DEFAULTS.iou)
        out.append((index, people, placement.width, placement.height))
    return out


def without_regions(frames, regions: list) -> list:
    """The frames' boxes minus those whose foot point is in an ignore region (normalised polygons)."""
    out = []
    for index, dets, width, height in frames:
        kept = drop_ignored(normalise(dets, width, height), regions)
        pixels = kept.xyxy * np.array([width, height, width, height], dtype=np.float32)
        out.append((index, np.column_stack([pixels, kept.confidence]), width, height))
    return out


def calibrated_regions(frames, fps: float) -> list:
    """What ``propose_regions`` (storesight calibrate) proposes from this clip's own boxes."""
    return propose_regions([(index / fps, normalise(dets, width, height)) for index, dets, width, height in frames])


def run(entry: Entry, clip: Clip, frames, fps: float, variant: str = "") -> Row:
    tracker = entry.make(fps / clip.every)
    tracked, errors = [], []
    first: dict[int, float] = {}
    last: dict[int, float] = {}
    in_visit: list[dict[int, int]] = [{} for _ in clip.visits or []]
    started = time.perf_counter()
    for index, dets, width, height in frames:
        t = index / fps
        ids, boxes = tracker.update(dets, t, width, height)
        ids, boxes = np.asarray(ids, int), np.asarray(boxes, float).reshape(-1, 4)
        shown_ids, shown_boxes = ids, boxes  # what the product would count in this frame
        ids, boxes = ids[ids > 0], boxes[ids > 0]  # tracked: scored by the MOT metrics
        tracked.append((ids, boxes))
        for tid in ids.tolist():
            first.setdefault(tid, t)
            last[tid] = t
        for k, (a, b) in enumerate(clip.visits or []):
            if a <= index <= b:
                for tid in ids.tolist():
                    in_visit[k][tid] = in_visit[k].get(tid, 0) + 1
        if index in clip.counts:
            gt = clip.truth_boxes[index] if clip.truth_boxes else None
            shown = len(_drop_on_ignored(shown_ids, shown_boxes, gt.ignored)[0]) if gt is not None else len(shown_ids)
            errors.append(shown - clip.counts[index])
    spent = (time.perf_counter() - started) * 1000 / max(len(frames), 1)
    mot: dict[float, MotScore | None] = {0.5: None, 0.3: None}
    if clip.truth_boxes is not None:
        truth = [clip.truth_boxes.get(index, TruthFrame(np.zeros(0, int), np.zeros((0, 4)), np.zeros((0, 4))))
                 for index, *_ in frames]
        mot = {th: score_mot(truth, tracked, th) for th in mot}
    errors_a = np.array(errors, dtype=float)
    per_visit = ",".join(str(sum(1 for n in v.values() if n >= 3)) for v in in_visit)
    return Row(clip.name, entry.name + variant, mot, float(np.abs(errors_a).mean()), float((errors_a == 0).mean()),
               sum(1 for tid in first if last[tid] - first[tid] >= 1.0), per_visit, spent)


def table(rows: list[Row]) -> list[str]:
    lines = ["| clip | tracker | IDF1 @0.5 | MOTA @0.5 | ID sw @0.5 | IDF1 @0.3 | MOTA @0.3 | ID sw @0.3 "
             "| count MAE | count exact | tracks >= 1 s | tracks per visit | ms/frame |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = []
        for th in (0.5, 0.3):
            m = r.mot[th]
            cells += ["-"] * 3 if m is None else [f"{m.idf1:.3f}", f"{m.mota:.3f}", str(m.id_switches)]
        lines.append(f"| {r.clip} | {r.tracker} | {' | '.join(cells)} | {r.mae:.3f} | {r.exact:.1%} | "
                     f"{r.distinct} | {r.per_visit or '-'} | {r.ms_per_frame:.2f} |")
    return lines


def write(lines: list[str], seconds: float) -> None:
    """Replace this bench's section of ACCURACY.md, keeping the sections before and after it."""
    text = ACCURACY.read_text(encoding="utf-8") if ACCURACY.exists() else "# Detection accuracy\n"
    head, _, rest = text.partition(MARK)
    head = head.rstrip("\n")
    after = rest.find("\n## ")
    tail = rest[after:] if after >= 0 else ""
    section = [MARK, "", "Command: `python -m bench.tracking` (detector outputs recorded once per clip and "
               "cached; every tracker replays the same boxes; "
               f"{seconds:.0f} s for the table on the 2-core VM).", "", *NOTES, "", *lines, ""]
    ACCURACY.write_text(head + "\n\n" + "\n".join(section) + tail, encoding="utf-8")
    print(f"wrote {ACCURACY}")


NOTES = [
    "Same inputs and thresholds for every row: the product's detector (`best_fp16.onnx`, ONNX",
    "Runtime, the input_size/input_fit defaults of the run), NMS IoU 0.6, every box >= 0.05 with its score; 0.35 (`detect.confidence`) starts a",
    "track; trackers with a low-confidence pass use the boxes below it as designed, SORT and norfair",
    "see only boxes >= 0.35. Time: capture timestamps (`timestamp=`) and the clip's frame rate.",
    "MOT metrics score the boxes with a track id; the count is every box a tracker reports (the",
    "project's trackers also report a confident box whose track is not confirmed yet, and hidden",
    "people at their prediction for `track_report_hidden_s`). MOT metrics from",
    "`trackers.eval` (TrackEval's CLEAR and Identity code); truth boxes marked 'do not consider'",
    "(PETS) remove the tracker boxes on them, as TrackEval does. CAVIAR's truth does not label the",
    "static figure at the end of the corridor, so every tracker that holds it pays a false",
    "positive a frame. supervision 0.31.2 has no ByteTrack any more (it moved to `trackers`), so",
    "its row is `trackers`' ByteTrackTracker. Tracks per visit (Intel): track ids seen in >= 3",
    "frames inside each labelled visit (1 each = no switch). ms/frame: tracker only, on a loaded",
    "2-core VM (load average 15-25 while this ran), indicative.",
    "",
    "Findings (this run):",
    "- Adopted: OC-SORT (`trackers` 2.6.1) behind services/detect/tracker.py, matching by buffered IoU",
    "  whose buffer grows with the frame gap (see \"Tracker association at low detector rates\"; with",
    "  plain IoU 0.3 PETS09 read 0.466 / 0.644, 32 / 21 switches). Against the old tracker",
    "  on PETS09: IDF1 0.376 -> 0.520 (IoU 0.5) and 0.486 -> 0.708 (IoU 0.3), id switches 54 -> 31",
    "  and 44 -> 18; on CAVIAR the same IDF1 (0.768 vs 0.769 at 0.5), MOTA 0.532 -> 0.643; Intel",
    "  unchanged (100 % exact, 6 tracks, one per visit). The wrapper (timestamps, confirmation and",
    "  memory in seconds, our own ids, hidden people reported) beats the bare library OC-SORT at IoU",
    "  0.3 on both clips. The issue's held-out door counts (11 of 11 events with OC-SORT) decided",
    "  between the close rows.",
    "- Not the best everywhere: norfair (IoU distance) has fewer PETS09 id switches (19 / 16 vs",
    "  31 / 18, IDF1 0.515 / 0.664) and `trackers`' ByteTrack the highest CAVIAR IDF1 (0.806 / 0.863) but the",
    "  worst PETS09 one. norfair declares numpy < 2 and counts its memory in frames; it is the",
    "  candidate to try next behind the same wrapper.",
    "- Library thresholds as shipped (0.6/0.7) lose most people of these detectors (OC-SORT at",
    "  0.6: PETS09 IDF1 0.05): the project's `confidence` (0.35) is passed to every library tracker.",
    "- Hidden-person reporting (0.5 s) only pays once static figures are gone: with the calibrated",
    "  ignore regions it gives PETS09 MAE 0.455 vs 0.757 without it, CAVIAR 0.380 vs 0.908; without",
    "  the regions the figure's +1 and the hidden people's +1 add up. Default kept at 0.5 s.",
    "- Static figures: `storesight calibrate` (services/detect/fixtures.py `propose_regions`, spots",
    "  held for 90 % of the sample and seen >= 0.35 at least once) proposes on CAVIAR exactly one",
    "  region around the unlabelled figure at the end of the corridor: the same MAE as the hand-drawn",
    "  region (0.380, from 0.892 without any region); on PETS09 the jacket on the grass and one",
    "  object at the right edge (MAE 1.117 -> 0.454); on Intel none. The online recogniser",
    "  (`detect.fixture_after_s`, 15 min) cannot trigger on clips this short (12 s, 80 s, 140 s).",
    "- Per-frame count on CAVIAR with the region: the old tracker (low pass from 0.05 extending",
    "  tracks, tuned on this clip) is lower than the adopted one (see its rows); on held-out",
    "  footage that tuning gave MAE 0.40 (issue 16), and on PETS09 the adopted one is lower.",
    "- Left: people far away (a few pixels tall) are still missed (CAVIAR bias negative); no",
    "  input-size or tiling change was measured here.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--only", help="run only trackers whose name contains this")
    parser.add_argument("--clips", default=",".join(CLIPS), help=f"comma-separated, of {', '.join(CLIPS)}")
    args = parser.parse_args()
    started = time.monotonic()
    rows = []
    for clip in (CLIPS[name]() for name in args.clips.split(",")):
        frames = raw_boxes(clip)
        fps = clip_fps(clip.video)
        for entry in ENTRIES:
            if args.only and args.only not in entry.name:
                continue
            rows.append(run(entry, clip, frames, fps))
            print("\n".join(table(rows[-1:])[2:]), flush=True)
        regions = calibrated_regions(frames, fps)
        print(f"{clip.name}: calibration proposes {len(regions)} ignore region(s): {regions}")
        variants = [(f" + calibrated ignore regions ({len(regions)})", regions)]
        if clip.video.name == "OneLeaveShop1cor.mpg":
            variants.append((" + the hand-drawn CAVIAR ignore region", CAVIAR_IGNORE))
        for name, polygons in variants:
            for entry in ENTRIES[:3]:  # old, adopted, and adopted without hidden people
                if not args.only or args.only in entry.name:
                    rows.append(run(entry, clip, without_regions(frames, polygons), fps, name))
                    print("\n".join(table(rows[-1:])[2:]), flush=True)
    lines = table(rows)
    print("\n".join(lines))
    if not args.no_write and args.clips == ",".join(CLIPS) and not args.only:
        write(lines, time.monotonic() - started)


if __name__ == "__main__":
    main()
