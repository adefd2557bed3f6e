"""INT8 person detector: NNCF post-training quantization of the ONNX model, calibrated on real frames.

Made once per model, offline, into a cache directory outside the repository (never committed):
``storesight detect-quantize --calibration VIDEO [--out PATH] [--frames 300]``; then
``pipeline.detect: {backend: openvino, precision: int8, int8_model_path: PATH}``.
Calibration frames go through the service's own letterbox, so the INT8 activation ranges are
measured on exactly what the model sees in production. Calibrate on footage other than the
clips the accuracy benchmark scores (the default is PETS09, scored clips are Intel and CAVIAR).
nncf (the ``int8`` extra) is imported only here.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from services.detect.letterbox import letterbox_batch
from storesight.video import every_nth_frame

log = logging.getLogger(__name__)

DEFAULT_INT8_PATH = Path.home() / ".cache" / "storesight" / "detect-int8" / "best_fp16_int8.xml"


def calibration_inputs(videos: list[Path], count: int, size: int) -> list[np.ndarray]:
    """About ``count`` letterboxed (1, 3, size, size) inputs, spread evenly over the videos' frames
    (every n-th frame, n from the files' header frame counts; only the picked frames are kept)."""
    import cv2

    total = 0
    for video in videos:
        capture = cv2.VideoCapture(str(video))
        total += max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
        capture.release()
    every = max(1, total // max(1, count))
    inputs = [letterbox_batch([image], size)[0] for video in videos for _, _, image in every_nth_frame(video, every)]
    if not inputs:
        raise ValueError(f"no calibration frames could be read from {', '.join(map(str, videos))}")
    return inputs[:count]


def quantize(model_path: Path, inputs: list[np.ndarray], out: Path) -> Path:
    """Quantize the model's convolutions to INT8 (activation ranges from ``inputs``) and save an IR.

    The box decode at the end of the graph (DFL softmax, anchor arithmetic) stays in float:
    INT8 there moves box edges by pixels for little speed.
    """
    try:
        import nncf
    except ImportError as error:
        raise SystemExit("detect-quantize needs nncf: pip install -e .[int8]") from error
    import openvino as ov

    model = ov.Core().read_model(str(model_path))
    quantized = nncf.quantize(
        model, nncf.Dataset(inputs), preset=nncf.QuantizationPreset.MIXED, subset_size=len(inputs),
        ignored_scope=nncf.IgnoredScope(types=["Multiply", "Subtract", "Sigmoid", "Softmax"]))
    out.parent.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantized, str(out))
    log.info("int8 model written", extra={"model": str(model_path), "out": str(out), "calibration": len(inputs)})
    return out
