"""Heatmaps: foot-point grids (``heat.HeatGrid`` per window, or ``accumulate`` from a file) drawn over
a people-free background.

The background is the per-pixel median of frames sampled across the camera's file source
(``storesight.video``):
anyone walking through is in few of the samples, so the median shows the empty scene. It is
built in memory when a heatmap is drawn and never stored; the PNG holds no frame with people.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from services.aggregate.geometry import grid_cells
from storesight.video import median_background, sample_frames, source_path


def accumulate(feet: Iterable[tuple[float, float]], grid: tuple[int, int]) -> np.ndarray:
    """Count normalised foot points into a (grid_y, grid_x) array."""
    gx, gy = grid
    cells = grid_cells(np.asarray(list(feet), dtype=np.float64).reshape(-1, 2), grid)
    return np.bincount(cells, minlength=gx * gy).astype(np.int64).reshape(gy, gx)


def file_background(source: str, samples: int = 31) -> np.ndarray:
    """People-free background of a camera's file source: the median of ``samples`` frames spread over it."""
    return median_background(sample_frames(source_path(source), count=samples))


def render(background: np.ndarray, counts: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """Blend a colour-mapped, smoothed grid over the background; empty cells stay clear."""
    import cv2

    h, w = background.shape[:2]
    heat = counts.astype(np.float32)
    if heat.max() > 0:
        heat = heat / heat.max()
    heat = cv2.resize(heat, (w, h), interpolation=cv2.INTER_LINEAR)
    heat = cv2.GaussianBlur(heat, (0, 0), sigmaX=max(w, h) / 100)
    if heat.max() > 0:
        heat = heat / heat.max()
    colour = cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET)
    weight = (alpha * np.clip(heat * 3, 0, 1))[..., None]
    return (background * (1 - weight) + colour * weight).astype(np.uint8)


def project_grid(counts: np.ndarray, homography: np.ndarray, plan_hw: tuple[int, int],
                 metres_per_pixel: float) -> np.ndarray:
    """A camera's foot-point grid moved onto the floor plan: (plan_h, plan_w) counts.

    Each cell's count goes to the plan pixel under the cell centre (image -> floor metres through
    the camera's homography -> pixels); cells that land outside the plan are left out.
    """
    from storesight.floorplane import project

    gy, gx = counts.shape
    iy, ix = np.nonzero(counts)
    out = np.zeros(plan_hw, dtype=np.float64)
    if len(iy) == 0:
        return out
    centres = np.c_[(ix + 0.5) / gx, (iy + 0.5) / gy]
    # Rounded before the floor: 1.5 m / 0.05 m is 29.999999999999996 in floating point, and which
    # side of a pixel edge a point exactly on it lands must not depend on the last bit of an SVD.
    pixels = np.floor(np.round(project(homography, centres) / metres_per_pixel, 9)).astype(np.intp)
    h, w = plan_hw
    keep = (pixels[:, 0] >= 0) & (pixels[:, 0] < w) & (pixels[:, 1] >= 0) & (pixels[:, 1] < h)
    np.add.at(out, (pixels[keep, 1], pixels[keep, 0]), counts[iy[keep], ix[keep]])
    return out
