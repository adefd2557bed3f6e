"""Shared frame helpers: the empty scene is found among frames, also when people stand still."""

from __future__ import annotations

import cv2
import numpy as np

from storesight.video import empty_scene_background, median_background, reference_frame


def _scene(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, size=(54, 96, 3), dtype=np.uint8)


def _with_person(scene: np.ndarray, colour: int) -> np.ndarray:
    frame = scene.copy()
    frame[10:50, 40:60] = colour
    return frame


def test_empty_scene_found_where_a_plain_median_keeps_a_ghost():
    scene = _scene()
    # Four different people stand on the same spot for 8 of 12 frames (two frames each).
    frames = [scene.copy() for _ in range(4)] + [_with_person(scene, c) for c in (0, 0, 80, 80, 160, 160, 240, 240)]
    assert np.abs(median_background(frames).astype(int) - scene).max() > 50  # the ghost
    assert (empty_scene_background(frames) == scene).all()


def test_never_empty_scene_falls_back_to_the_median():
    scene = _scene()
    frames = [_with_person(scene, c) for c in range(0, 250, 40)]  # everyone different
    assert (empty_scene_background(frames) == median_background(frames)).all()


def test_image_folder_source(tmp_path):
    scene = cv2.resize(_scene(), (192, 108), interpolation=cv2.INTER_NEAREST)
    for i in range(5):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), scene if i % 2 == 0 else _with_person(scene, 10 * i))
    assert (reference_frame(f"dir://{tmp_path}", samples=5) == scene).all()
