"""Reading frames from a video file or camera source outside the Kafka pipeline.

``every_nth_frame`` decodes a file in order (``storesight detect-file``, analyze, benchmarks);
``frames_at`` and ``sample_frames`` pick frames by index; ``median_background`` and
``reference_frame`` give a picture of the scene without people (``storesight zones preview``,
the heatmap, the synthetic clip generator). Frames stay in memory: nothing
here writes pixels anywhere.

Example::

    from storesight.video import median_background, sample_frames
    frames = sample_frames("clip.mp4", count=25)        # evenly spaced BGR uint8 frames
    background = median_background(frames)              # per-pixel median: people-free where
                                                        # each spot is empty most of the time
    scene = reference_frame("clip.mp4")                 # the empty scene, found among samples
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "device://")
NETWORK_TIMEOUT_MS = 5000


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    frame_count: int


def source_path(source: str) -> str:
    """A camera ``source`` as OpenCV opens it: strip ``file://``, map ``device://N`` to N."""
    if source.startswith("file://"):
        return source[len("file://"):]
    return source


def is_stream(source: str) -> bool:
    return source.startswith(STREAM_SCHEMES)


def open_capture(source: str) -> cv2.VideoCapture:
    """Open a file, stream or ``device://N``; raise OSError naming the source if it fails."""
    target = source_path(source)
    if target.startswith("device://"):
        capture = cv2.VideoCapture(int(target[len("device://"):]))
    elif is_stream(target):  # a camera that never answers must not hang the caller
        capture = cv2.VideoCapture(target, cv2.CAP_FFMPEG, [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, NETWORK_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, NETWORK_TIMEOUT_MS])
    else:
        capture = cv2.VideoCapture(target)
    if not capture.isOpened():
        raise OSError(f"cannot open video source {source!r}")
    return capture


def video_info(path: str | Path) -> VideoInfo:
    capture = open_capture(str(path))
    try:
        return VideoInfo(
            width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            fps=float(capture.get(cv2.CAP_PROP_FPS) or 0.0),
            frame_count=int(capture.get(cv2.CAP_PROP_FRAME_COUNT)),
        )
    finally:
        capture.release()


def frames_at(path: str | Path, indices: Iterable[int]) -> dict[int, np.ndarray]:
    """The frames at the given indices of a file, read in one forward pass (grab to skip)."""
    wanted = sorted(set(int(i) for i in indices))
    frames: dict[int, np.ndarray] = {}
    if not wanted:
        return frames
    capture = open_capture(str(path))
    try:
        index = 0
        for target in wanted:
            while index < target:
                if not capture.grab():
                    return frames
                index += 1
            ok, frame = capture.read()
            if not ok:
                return frames
            frames[target] = frame
            index += 1
    finally:
        capture.release()
    return frames


def every_nth_frame(path: str | Path, every: int = 1) -> Iterator[tuple[int, float, np.ndarray]]:
    """(index, seconds from start, BGR image) for every ``every``-th frame, decoded until the end.

    Timestamps come from the frame index and the file's frame rate (header frame counts of
    some formats are wrong, so the file is read until it ends).
    """
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise FileNotFoundError(f"cannot open video {path}")
    fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
    fps = fps if 0 < fps < 1000 else 25.0
    index = 0
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                break
            if index % every == 0:
                yield index, index / fps, image
            index += 1
    finally:
        capture.release()


def sample_frames(path: str | Path, count: int = 25, first: int = 0, last: int | None = None) -> list[np.ndarray]:
    """``count`` evenly spaced frames of a file between frame ``first`` and ``last`` (inclusive)."""
    if last is None:
        last = max(video_info(path).frame_count - 1, first)
    indices = np.linspace(first, last, num=max(count, 1)).round().astype(int)
    frames = frames_at(path, indices.tolist())
    return [frames[i] for i in sorted(frames)]


def grab_stream_frames(source: str, count: int = 5, max_reads: int = 100) -> list[np.ndarray]:
    """The first ``count`` frames a live source delivers (streams cannot be sampled over time)."""
    capture = open_capture(source)
    frames: list[np.ndarray] = []
    try:
        for _ in range(max_reads):
            ok, frame = capture.read()
            if ok:
                frames.append(frame)
                if len(frames) >= count:
                    break
    finally:
        capture.release()
    if not frames:
        raise OSError(f"video source {source!r} delivered no frames")
    return frames


def median_background(frames: Sequence[np.ndarray]) -> np.ndarray:
    """Per-pixel median of same-sized frames: a people-free picture of a static camera's scene
    wherever each spot is free in more than half of the frames (people who stand still for most
    of the samples stay as a ghost)."""
    if not frames:
        raise ValueError("median_background needs at least one frame")
    return np.median(np.stack(frames), axis=0).astype(np.uint8)


def empty_scene_background(frames: Sequence[np.ndarray], pixel_delta: int = 25, still_fraction: float = 0.005,
                           min_share: float = 0.1) -> np.ndarray:
    """Background of a static camera from frames some of which show the scene empty.

    Frames of the empty scene are near-identical to each other, while frames with people differ
    (people move and look different), so the largest group of near-identical frames is taken as
    the empty scene and its median returned. Where no group holds ``min_share`` of the frames
    (a scene never empty, or one person standing still throughout), this falls back to the
    plain per-pixel median.
    """
    if not frames:
        raise ValueError("empty_scene_background needs at least one frame")
    small = np.stack([cv2.cvtColor(cv2.resize(f, (96, 54), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
                      for f in frames]).astype(np.int16)
    changed = np.stack([(np.abs(small - one) > pixel_delta).mean(axis=(1, 2)) for one in small])
    similar = changed < still_fraction
    best = int(np.argmax(similar.sum(axis=1)))
    members = np.flatnonzero(similar[best])
    if len(members) >= max(2, min_share * len(frames)):
        return median_background([frames[i] for i in members])
    return median_background(frames)


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def folder_frames(source: str, count: int) -> list[np.ndarray]:
    """``count`` evenly spaced images (sorted by name) of a ``dir://`` image-folder source."""
    folder = Path(source[len("dir://"):])
    names = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []
    if not names:
        raise OSError(f"image folder {str(folder)!r} holds no images")
    picks = sorted(set(np.linspace(0, len(names) - 1, num=max(count, 1)).round().astype(int).tolist()))
    frames = [cv2.imread(str(names[i])) for i in picks]
    return [f for f in frames if f is not None]


def reference_frame(source: str, samples: int = 40, at_s: float | None = None) -> np.ndarray:
    """A picture of a camera's scene for calibration, without people where possible.

    Files and ``dir://`` image folders: ``empty_scene_background`` of ``samples`` evenly spaced
    frames (files: or, with ``at_s``, the single frame at that second). Streams and devices:
    the median of the first few frames delivered.
    """
    if source.startswith("dir://"):
        return empty_scene_background(folder_frames(source, samples))
    if is_stream(source):
        return median_background(grab_stream_frames(source))
    path = source_path(source)
    if not Path(path).exists():
        raise OSError(f"video file {path!r} does not exist")
    if at_s is not None:
        info = video_info(path)
        index = min(int(round(at_s * (info.fps or 1.0))), max(info.frame_count - 1, 0))
        frames = frames_at(path, [index])
        if not frames:
            raise OSError(f"{path!r} has no frame at {at_s} s")
        return frames[index]
    frames_list = sample_frames(path, count=samples)
    if not frames_list:
        raise OSError(f"{path!r} delivered no frames")
    return empty_scene_background(frames_list)
