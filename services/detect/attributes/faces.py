"""Face detection with CenterFace (ONNX) on a batch of person crops, in one model call.

Each crop (the upper part of a person box) is letterboxed into the same input size so the
whole batch runs as one tensor. Boxes and landmarks come back in crop pixels and stay in
memory: face boxes never leave the process.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .modelfiles import centerface_path

# CenterFace's output stride: one heatmap cell per 4x4 input pixels.
STRIDE = 4


@dataclass(frozen=True)
class Face:
    """One face in crop pixels; ``landmarks`` are (x, y) of left eye, right eye, nose, mouth corners."""

    x1: float
    y1: float
    x2: float
    y2: float
    score: float
    landmarks: tuple[tuple[float, float], ...]

    @property
    def size(self) -> float:
        """The shorter side in pixels: what the minimum-face-size guard compares."""
        return min(self.x2 - self.x1, self.y2 - self.y1)


def _dynamic_model_bytes(path: Path) -> bytes:
    """The shipped graph has a fixed 10x3x32x32 input: make batch and size symbolic."""
    import onnx

    model = onnx.load(str(path))
    initializers = {init.name for init in model.graph.initializer}
    real_inputs = [value for value in model.graph.input if value.name not in initializers]
    del model.graph.input[:]
    model.graph.input.extend(real_inputs)
    for value in list(model.graph.input) + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        for dim, name in ((dims[0], "batch"), (dims[2], "height"), (dims[3], "width")):
            dim.dim_param = name
    return model.SerializeToString()


def letterbox(crop: np.ndarray, width: int, height: int) -> tuple[np.ndarray, float]:
    """Scale ``crop`` to fit ``width`` x ``height`` (top-left aligned, black padding); return it and the scale."""
    scale = min(width / crop.shape[1], height / crop.shape[0])
    new_w, new_h = max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    canvas[:new_h, :new_w] = cv2.resize(crop, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    return canvas, scale


def decode(heatmap: np.ndarray, scale: np.ndarray, offset: np.ndarray, landmarks: np.ndarray,
           threshold: float, nms_iou: float = 0.3) -> list[Face]:
    """Turn one image's CenterFace outputs (C x h x w each) into faces in input pixels."""
    rows, cols = np.nonzero(heatmap[0] > threshold)
    if rows.size == 0:
        return []
    heights = np.exp(scale[0, rows, cols]) * STRIDE
    widths = np.exp(scale[1, rows, cols]) * STRIDE
    centre_y = (rows + offset[0, rows, cols] + 0.5) * STRIDE
    centre_x = (cols + offset[1, rows, cols] + 0.5) * STRIDE
    x1, y1 = centre_x - widths / 2, centre_y - heights / 2
    scores = heatmap[0, rows, cols]
    marks_y = landmarks[0::2, rows, cols] * heights + y1  # (5, n)
    marks_x = landmarks[1::2, rows, cols] * widths + x1
    boxes = np.stack([x1, y1, x1 + widths, y1 + heights], axis=1)
    faces = []
    for i in non_max_suppression(boxes, scores, nms_iou):
        faces.append(Face(float(boxes[i, 0]), float(boxes[i, 1]), float(boxes[i, 2]), float(boxes[i, 3]),
                          float(scores[i]),
                          tuple((float(marks_x[j, i]), float(marks_y[j, i])) for j in range(5))))
    return faces


def non_max_suppression(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Indices of boxes kept, best score first, dropping any overlapping a kept one by more than ``iou``."""
    order = list(np.argsort(-scores))
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while order:
        best = order.pop(0)
        keep.append(int(best))
        rest = np.array(order, dtype=int)
        if rest.size == 0:
            break
        ix1 = np.maximum(boxes[best, 0], boxes[rest, 0])
        iy1 = np.maximum(boxes[best, 1], boxes[rest, 1])
        ix2 = np.minimum(boxes[best, 2], boxes[rest, 2])
        iy2 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
        overlap = inter / (areas[best] + areas[rest] - inter + 1e-9)
        order = [int(j) for j, o in zip(rest, overlap, strict=True) if o <= iou]
    return keep


class CenterFaceDetector:
    """CenterFace on the CPU (or CUDA) execution provider, named explicitly."""

    def __init__(self, input_size: int = 160, threshold: float = 0.5, device: str = "cpu",
                 model_path: Path | None = None, threads: int = 1):
        import onnxruntime as ort

        ort.set_default_logger_severity(3)  # the shipped graph warns about every BN initializer
        self.input_size = input_size - input_size % 32 or 32
        self.threshold = threshold
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device == "cuda" else \
            ["CPUExecutionProvider"]
        self._session = ort.InferenceSession(_dynamic_model_bytes(model_path or centerface_path()),
                                             sess_options=options, providers=providers)
        self._input = self._session.get_inputs()[0].name

    def detect(self, crops: list[np.ndarray]) -> list[list[Face]]:
        """Faces in each BGR crop (crop pixels), for all crops in one batched model call."""
        if not crops:
            return []
        size = self.input_size
        batch = np.empty((len(crops), 3, size, size), dtype=np.float32)
        scales = []
        for i, crop in enumerate(crops):
            canvas, scale = letterbox(crop, size, size)
            batch[i] = canvas[:, :, ::-1].transpose(2, 0, 1)  # the network takes RGB, 0..255
            scales.append(scale)
        heatmap, box_scale, offset, marks = self._session.run(None, {self._input: batch})
        results = []
        for i, scale in enumerate(scales):
            faces = decode(heatmap[i], box_scale[i], offset[i], marks[i], self.threshold)
            results.append([_rescale(face, 1.0 / scale) for face in faces])
        return results


def _rescale(face: Face, factor: float) -> Face:
    return Face(face.x1 * factor, face.y1 * factor, face.x2 * factor, face.y2 * factor, face.score,
                tuple((x * factor, y * factor) for x, y in face.landmarks))


def is_frontal(face: Face, min_eye_ratio: float = 0.25) -> bool:
    """True for a roughly frontal face: both eyes visible apart and the nose between them.

    Side-on faces give nonsense ages and genders (in the Intel clip a man's profile came out
    as a one-year-old girl), so they are not classified at all.
    """
    (lx, _), (rx, _), (nx, _) = face.landmarks[0], face.landmarks[1], face.landmarks[2]
    width = max(face.x2 - face.x1, 1e-6)
    return (rx - lx) / width >= min_eye_ratio and lx < nx < rx
