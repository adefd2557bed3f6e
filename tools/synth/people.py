"""Real person images for synthetic clips, cut out in memory at generation time.

Primary source: the six people of the labelled Intel clip (../shared/data/intel-one-by-one).
The camera is fixed, so the median of frames labelled empty (frame_counts.csv) is a clean
background; ``|frame - background| > threshold``, cleaned with morphology and reduced to the
largest blob, is the person's mask in frames where one person stands at the table (visits.csv).

Fallback (no ../shared/data, e.g. the demo on a fresh machine): matplotlib's sample photo of
Grace Hopper (``mpl-data/sample_data/grace_hopper.jpg``), cut out with GrabCut. It is a
head-and-shoulders portrait, so the lower body is drawn (plain dark clothes and legs) below it
to give the figure a person's proportions. This is weaker: one real face and upper body on a
drawn body, recoloured and mirrored for variety; a person detector finds it less reliably than
the Intel people, and tests that need realism should use the Intel source.

Cut-outs are BGRA arrays tightly cropped to the person (alpha = mask). They are never written
to disk; they only end up inside the generated video.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from storesight.video import frames_at, median_background

REPO = Path(__file__).resolve().parents[2]
INTEL_DIR = REPO.parent / "shared" / "data" / "intel-one-by-one"
INTEL_CLIP = INTEL_DIR / "one-by-one-person-detection.mp4"
DIFF_THRESHOLD = 40
MIN_PERSON_PIXELS = 4000
FLOOR_FROM = 0.58  # the Intel scene's wooden floor starts below the skirting board


@dataclass(frozen=True)
class Sprite:
    image: np.ndarray  # BGRA, tightly cropped
    origin: str        # where it came from, for the truth file (no pixels)

    @property
    def aspect(self) -> float:
        return self.image.shape[1] / self.image.shape[0]


def intel_available(directory: Path = INTEL_DIR) -> bool:
    return all((directory / name).exists() for name in
               ("one-by-one-person-detection.mp4", "frame_counts.csv", "visits.csv"))


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _largest_blob(mask: np.ndarray) -> np.ndarray | None:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count < 2:
        return None
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if stats[best, cv2.CC_STAT_AREA] < MIN_PERSON_PIXELS:
        return None
    blob = (labels == best).astype(np.uint8) * 255
    contours, _ = cv2.findContours(blob, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(blob)
    cv2.drawContours(filled, contours, -1, 255, thickness=cv2.FILLED)  # fill holes
    return filled


def cut_out(frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """BGRA crop of ``frame`` to the mask's bounding box, alpha = softened mask."""
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    alpha = cv2.GaussianBlur(mask, (3, 3), 0)[y0:y1, x0:x1]
    return np.dstack([frame[y0:y1, x0:x1], alpha])


def _shadow(frame: np.ndarray, background: np.ndarray, floor_from: float = FLOOR_FROM) -> np.ndarray:
    """Floor pixels that are the background, only darker with the same colour: shadows.

    Only the floor is tested: grey clothes in front of the white wall would pass the same test.
    """
    shadow = np.zeros(frame.shape[:2], bool)
    top = int(floor_from * frame.shape[0])
    f, b = frame[top:].astype(np.float32) + 1.0, background[top:].astype(np.float32) + 1.0
    ratio = f.sum(axis=2) / b.sum(axis=2)
    chroma = np.abs(f / f.sum(axis=2, keepdims=True) - b / b.sum(axis=2, keepdims=True)).max(axis=2)
    shadow[top:] = (ratio > 0.3) & (ratio < 0.95) & (chroma < 0.05)
    return shadow


def person_mask(frame: np.ndarray, background: np.ndarray, threshold: int = DIFF_THRESHOLD) -> np.ndarray | None:
    """Foreground mask of the one person in ``frame`` of a static camera, or None if unclear."""
    diff = cv2.absdiff(frame, background).max(axis=2)
    mask = ((diff > threshold) & ~_shadow(frame, background)).astype(np.uint8) * 255
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (11, 11)))
    return _largest_blob(mask)


def intel_background(directory: Path = INTEL_DIR, samples: int = 40) -> np.ndarray:
    """Median of frames labelled empty: the Intel scene without anyone in it."""
    empty = [int(r["frame"]) for r in _read_csv(directory / "frame_counts.csv") if r["persons"] == "0"]
    picks = [empty[i] for i in np.linspace(0, len(empty) - 1, num=min(samples, len(empty))).astype(int)]
    frames = frames_at(directory / "one-by-one-person-detection.mp4", picks)
    return median_background(list(frames.values()))


@functools.lru_cache(maxsize=2)
def intel_sprites(directory: Path = INTEL_DIR, poses: tuple[float, ...] = (0.4, 0.55, 0.7)) -> tuple[Sprite, ...]:
    """Cut-outs of the six Intel visitors, a few poses each, taken while they stand at the table.

    Cached in memory for the process (tests and the demo ask more than once); never on disk.
    """
    background = intel_background(directory)
    counts = {int(r["frame"]): int(r["persons"]) for r in _read_csv(directory / "frame_counts.csv")}
    wanted: dict[int, str] = {}
    for visit in _read_csv(directory / "visits.csv"):
        first, last = int(visit["first_frame"]), int(visit["last_frame"])
        for pose in poses:
            index = round(first + pose * (last - first))
            if counts.get(index) == 1:
                wanted[index] = f"intel visit {visit['visit']} frame {index}"
    frames = frames_at(directory / "one-by-one-person-detection.mp4", wanted)
    sprites = []
    for index, frame in sorted(frames.items()):
        mask = person_mask(frame, background)
        if mask is not None:
            image = cut_out(frame, mask)
            image.setflags(write=False)  # shared through the cache
            sprites.append(Sprite(image, wanted[index]))
    return tuple(sprites)


def packaged_photo() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


TROUSERS_BGR = ((45, 35, 30), (40, 40, 90), (70, 70, 70), (90, 60, 40))


def _portrait_mask(small: np.ndarray) -> np.ndarray | None:
    """GrabCut seeded with a head-and-shoulders shape (the photo is a centred portrait)."""
    h, w = small.shape[:2]
    mask = np.full((h, w), cv2.GC_BGD, np.uint8)
    body = np.array([[int(w * 0.25), int(h * 0.55)], [int(w * 0.75), int(h * 0.55)], [w - 1, int(h * 0.78)],
                     [w - 1, h - 1], [0, h - 1], [0, int(h * 0.78)]], np.int32)
    cv2.fillPoly(mask, [body], cv2.GC_PR_FGD)
    cv2.ellipse(mask, (w // 2, int(h * 0.33)), (int(w * 0.27), int(h * 0.32)), 0, 0, 360, cv2.GC_PR_FGD, -1)
    cv2.ellipse(mask, (w // 2, int(h * 0.4)), (int(w * 0.12), int(h * 0.12)), 0, 0, 360, cv2.GC_FGD, -1)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(small, mask, None, bgd, fgd, 4, cv2.GC_INIT_WITH_MASK)
    fg = np.where((mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD), 255, 0).astype(np.uint8)
    return _largest_blob(fg)


def packaged_sprites() -> list[Sprite]:
    """Fallback figures: the packaged portrait's head and shoulders on drawn bodies (weaker)."""
    photo = cv2.imread(str(packaged_photo()))
    if photo is None:
        raise OSError(f"cannot read {packaged_photo()}")
    small = cv2.resize(photo, (256, 300), interpolation=cv2.INTER_AREA)
    fg = _portrait_mask(small)
    if fg is None:
        raise OSError("could not cut the person out of the packaged photo")
    upper = cut_out(small, fg)
    jacket = tuple(int(v) for v in np.median(small[-40:, 30:80].reshape(-1, 3), axis=0))
    sprites = []
    for i, trousers in enumerate(TROUSERS_BGR):
        figure = _figure_below(upper, jacket, trousers)
        if i % 2:
            figure = figure[:, ::-1].copy()
        sprites.append(Sprite(figure, f"packaged portrait (grace_hopper.jpg) on drawn body {i + 1}"))
    return sprites


def _figure_below(upper: np.ndarray, jacket_bgr: tuple[int, ...], trousers_bgr: tuple[int, ...]) -> np.ndarray:
    """Continue the head-and-shoulders cut-out with a drawn jacket and legs: a ~0.35-wide figure."""
    uh, uw = upper.shape[:2]
    height = int(uh * 2.5)
    figure = np.zeros((height, uw, 4), np.uint8)
    figure[:uh] = upper
    cx = uw // 2
    waist = int(uh * 1.55)
    jacket = np.array([[0, uh - 1], [uw - 1, uh - 1], [int(uw * 0.9), waist], [int(uw * 0.1), waist]], np.int32)
    cv2.fillPoly(figure, [jacket], (*jacket_bgr, 255))
    leg_w = int(uw * 0.3)
    for x0 in (cx - int(uw * 0.03) - leg_w, cx + int(uw * 0.03)):
        cv2.rectangle(figure, (x0, waist), (x0 + leg_w, height - int(uh * 0.08)), (*trousers_bgr, 255), -1)
        cv2.rectangle(figure, (x0 - 3, height - int(uh * 0.08)), (x0 + leg_w + 5, height - 1), (20, 20, 20, 255), -1)
    ys, xs = np.nonzero(figure[..., 3])
    return figure[ys.min():ys.max() + 1, xs.min():xs.max() + 1].copy()


def load_sprites(source: str = "auto") -> tuple[list[Sprite], str]:
    """Person images and the name of the source used: ``intel``, ``packaged`` or ``auto``."""
    if source not in ("auto", "intel", "packaged"):
        raise ValueError(f"unknown people source {source!r}")
    if source == "intel" or (source == "auto" and intel_available()):
        if not intel_available():
            raise OSError(f"the Intel clip and its labels are not in {INTEL_DIR}")
        sprites = list(intel_sprites())
        if sprites:
            return sprites, "intel"
        if source == "intel":
            raise OSError("no clean person cut-out could be made from the Intel clip")
    return packaged_sprites(), "packaged"
