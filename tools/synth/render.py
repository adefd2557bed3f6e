"""Drawing synthetic frames and writing the clip with its ground truth files.

The pure script (``script.simulate``) says where every person is, in whole pixels; this module
only pastes the person images there, nearer people over farther ones, and writes the files.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

from storesight.video import video_info
from tools.synth import people, scene
from tools.synth.script import SCENARIOS, FrameTruth, Truth, simulate

VIDEO_NAME = "clip.mp4"
FOURCC = "mp4v"  # MPEG-4 Part 2: encoded and decoded by the OpenCV wheel offline


def store_background(width: int, height: int) -> np.ndarray:
    """A drawn shop: wall with shelves of goods, a tiled floor, a door on the left, a till counter."""
    rng = np.random.default_rng(7)  # fixed: the same store for every seed
    img = np.empty((height, width, 3), np.uint8)
    wall_bottom = int(0.37 * height)
    img[:wall_bottom] = (196, 212, 222)
    floor = np.full((height - wall_bottom, width, 3), (172, 176, 178), np.int16)
    floor += rng.integers(-6, 7, size=floor.shape[:2], dtype=np.int16)[..., None]
    img[wall_bottom:] = np.clip(floor, 0, 255).astype(np.uint8)
    for y in range(wall_bottom, height, int(0.09 * height)):
        cv2.line(img, (0, y), (width - 1, y), (150, 154, 156), 1)
    for x in range(0, width, int(0.08 * width)):
        cv2.line(img, (x, wall_bottom), (x, height - 1), (150, 154, 156), 1)
    cv2.rectangle(img, (0, int(0.08 * height)), (int(0.07 * width), int(0.47 * height)), (90, 110, 130), -1)
    for x0, x1 in ((0.14, 0.38), (0.40, 0.62), (0.64, 0.86)):
        left, right = int(x0 * width), int(x1 * width)
        top, bottom = int(0.05 * height), int(0.36 * height)
        cv2.rectangle(img, (left, top), (right, bottom), (70, 80, 95), -1)
        for k in range(3):
            board_top = top + 6 + k * (bottom - top - 6) // 3
            board_bottom = board_top + (bottom - top) // 3 - 8
            x = left + 4
            while x < right - 10:
                w = int(rng.integers(6, 16))
                h = int(rng.integers((board_bottom - board_top) // 2, board_bottom - board_top))
                colour = tuple(int(c) for c in rng.integers(40, 230, size=3))
                cv2.rectangle(img, (x, board_bottom - h), (min(x + w, right - 4), board_bottom), colour, -1)
                x += w + 2
            cv2.rectangle(img, (left, board_bottom), (right, board_bottom + 3), (40, 45, 50), -1)
    cv2.rectangle(img, (int(0.90 * width), int(0.52 * height)), (width - 1, int(0.74 * height)), (60, 60, 66), -1)
    cv2.rectangle(img, (int(0.92 * width), int(0.46 * height)), (int(0.98 * width), int(0.52 * height)), (30, 30, 30), -1)
    return img


class Compositor:
    """Pastes person images into frames at the script's pixel rectangles (resized copies cached)."""

    def __init__(self, sprites: list[people.Sprite]):
        self.sprites = sprites
        self._cache: dict[tuple[int, int, int, bool], tuple[np.ndarray, np.ndarray]] = {}

    def _scaled(self, sprite: int, w: int, h: int, mirrored: bool) -> tuple[np.ndarray, np.ndarray]:
        key = (sprite, w, h, mirrored)
        if key not in self._cache:
            image = cv2.resize(self.sprites[sprite].image, (w, h), interpolation=cv2.INTER_AREA)
            if mirrored:
                image = image[:, ::-1]
            alpha = image[..., 3:].astype(np.float32) / 255.0
            self._cache[key] = (image[..., :3].astype(np.float32), alpha)
        return self._cache[key]

    def draw(self, background: np.ndarray, truth: FrameTruth) -> np.ndarray:
        frame = background.copy()
        height, width = frame.shape[:2]
        for person in truth.people:  # sorted far to near
            x, y, w, h = person.rect
            colour, alpha = self._scaled(person.sprite, w, h, person.mirrored)
            x1, y1, x2, y2 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
            if x2 <= x1 or y2 <= y1:
                continue
            src = (slice(y1 - y, y2 - y), slice(x1 - x, x2 - x))
            region = frame[y1:y2, x1:x2].astype(np.float32)
            a = alpha[src]
            frame[y1:y2, x1:x2] = (colour[src] * a + region * (1.0 - a)).astype(np.uint8)
        return frame


@dataclass(frozen=True)
class Generated:
    video: Path
    config: Path
    truth_frames: Path
    truth_summary: Path
    truth: Truth
    people_source: str
    seconds: float       # wall clock
    cpu_seconds: float   # this process's CPU time (the machine may be shared)


def generate(out_dir: str | Path, scenario: str = "queue", seed: int = 0, people_source: str = "auto",
             background: str = "store", fps: float = 10.0, width: int = 768, height: int = 432) -> Generated:
    """Write ``clip.mp4``, ``truth.jsonl`` (per frame), ``truth.json`` (summary) and ``store.yaml``."""
    started, cpu_started = time.perf_counter(), time.process_time()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sprites, source_used = people.load_sprites(people_source)
    truth = simulate(SCENARIOS[scenario], seed, [s.aspect for s in sprites], fps=fps, width=width, height=height)
    if background == "intel":
        base = cv2.resize(people.intel_background(), (width, height), interpolation=cv2.INTER_AREA)
    elif background == "store":
        base = store_background(width, height)
    else:
        raise ValueError(f"unknown background {background!r} (store or intel)")
    video = out / VIDEO_NAME
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*FOURCC), fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write {FOURCC} video to {video}")
    compositor = Compositor(sprites)
    try:
        for frame_truth in truth.frames:
            writer.write(compositor.draw(base, frame_truth))
    finally:
        writer.release()
    info = video_info(video)
    if info.frame_count != len(truth.frames) or (info.width, info.height) != (width, height):
        raise OSError(f"{video} decodes as {info}, expected {len(truth.frames)} frames of {width}x{height}")

    frames_path, summary_path, config_path = out / "truth.jsonl", out / "truth.json", out / "store.yaml"
    with frames_path.open("w") as handle:
        for record in truth.frame_records():
            handle.write(json.dumps(record, separators=(",", ":")) + "\n")
    summary = truth.summary() | {
        "video": VIDEO_NAME, "people_source": source_used, "background": background,
        "sprites": [s.origin for s in sprites],
        "tolerances": {
            "boxes": "exact to the pixel (the renderer pastes each image into the box)",
            "occlusion": "people walking to or from the aisle may pass in front of others for a few frames; "
                         "'occluded' in truth.jsonl gives the covered fraction of each box (queueing and "
                         "paying people are never occluded)",
            "feet": "foot point = bottom centre of the visible box",
        },
    }
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    config = scene.store_config(VIDEO_NAME, fps, SCENARIOS[scenario].rule)
    header = (f"# Synthetic store for {VIDEO_NAME} (storesight synth --scenario {scenario} --seed {seed}).\n"
              "# Ground truth: truth.json (summary) and truth.jsonl (per frame).\n")
    config_path.write_text(header + yaml.safe_dump(config, sort_keys=False))
    return Generated(video, config_path, frames_path, summary_path, truth, source_used,
                     time.perf_counter() - started, time.process_time() - cpu_started)
