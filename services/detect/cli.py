"""CLI verbs: ``storesight detect --config FILE`` (the service) and ``storesight detect-file VIDEO``."""

from __future__ import annotations

import argparse
import sys


def _settings(args: argparse.Namespace):
    from storesight.config import DetectSettings, load_config

    config = load_config(args.config) if args.config else None
    settings = config.pipeline.detect if config else DetectSettings()
    overrides = {k: v for k, v in {"backend": args.backend, "device": args.device, "model_path": args.model,
                                   "max_batch": args.batch, "precision": args.precision}.items() if v is not None}
    from services.detect.pipeline import camera_input

    ignore, size, fit = [], args.input_size, args.input_fit
    if config is not None and args.camera != "file":
        camera = config.camera(args.camera)[1]
        ignore, size, fit = camera.ignore_regions, size or camera.detect_input_size, fit or camera.detect_input_fit
    return (settings.model_copy(update=overrides) if overrides else settings), ignore, camera_input(settings, size, fit)


def _input_size(text: str) -> int:
    """--input-size: validated as the config's ``input_size`` is (a multiple of 32, 160..1920)."""
    from storesight.config import DetectSettings

    try:
        return DetectSettings(input_size=int(text)).input_size
    except ValueError as error:  # pydantic's ValidationError is one
        message = error.errors()[0]["msg"] if hasattr(error, "errors") else str(error)
        raise argparse.ArgumentTypeError(f"{text}: {message}") from None


def with_env_overrides(config):
    """DETECT_BACKEND and DETECT_DEVICE (set by the CPU and GPU images) override the config's
    detector, so one region config serves both kinds of detect node."""
    import os

    from storesight.config import DetectSettings

    overrides = {key: os.environ[var] for key, var in (("backend", "DETECT_BACKEND"), ("device", "DETECT_DEVICE"))
                 if os.environ.get(var)}
    if not overrides:
        return config
    detect = DetectSettings.model_validate({**config.pipeline.detect.model_dump(), **overrides})
    return config.model_copy(update={"pipeline": config.pipeline.model_copy(update={"detect": detect})})


def _cmd_detect(args: argparse.Namespace) -> int:
    from services.detect.service import GROUP, run
    from storesight.config import load_config
    from storesight.service import start_service
    from storesight.startup import StartupError, exit_on_startup_error

    config = with_env_overrides(load_config(args.config))
    runner = start_service("detect")
    try:
        run(config, runner, group=args.group or GROUP)
    except StartupError as exc:  # wrong Kafka credential, CA or protocol; a device the detector cannot get
        return exit_on_startup_error("detect", exc)
    finally:
        runner.close()
    return 0


def _cmd_detect_file(args: argparse.Namespace) -> int:
    import datetime as dt
    import logging

    from services.detect.pipeline import EPOCH, Detector, detect_video
    from storesight.logs import setup_logging
    from storesight.startup import StartupError, exit_on_startup_error

    setup_logging("detect-file")  # JSON logs on stderr; results on stdout or --out
    log = logging.getLogger("services.detect.cli")
    start = dt.datetime.fromisoformat(args.start_time.replace("Z", "+00:00")) if args.start_time else EPOCH
    settings, ignore, size = _settings(args)
    try:
        detector = Detector(settings, ignore_regions={args.camera: ignore},
                            input_sizes={args.camera: size} if size else None)
    except StartupError as exc:
        return exit_on_startup_error("detect-file", exc)
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
    frames = persons = 0
    try:
        for result in detect_video(args.video, settings, every=args.every, start_time=start,
                                   camera_id=args.camera, detector=detector):
            out.write(result.to_json() + "\n")
            frames += 1
            persons += len(result.persons)
    finally:
        if args.out:
            out.close()
    log.info("detect-file done", extra={"frames": frames, "persons": persons, "out": args.out or "-"})
    return 0


def _cmd_detect_quantize(args: argparse.Namespace) -> int:
    from pathlib import Path

    from services.detect.backends import resolve_model
    from services.detect.quantize import DEFAULT_INT8_PATH, calibration_inputs, quantize
    from storesight.logs import setup_logging

    setup_logging("detect-quantize")
    model = resolve_model("openvino", args.model)
    inputs = calibration_inputs([Path(v) for v in args.calibration], args.frames, args.input_size)
    out = quantize(model, inputs, Path(args.out).expanduser() if args.out else DEFAULT_INT8_PATH)
    print(f"INT8 model: {out} (calibrated on {len(inputs)} frames); set pipeline.detect.int8_model_path to it")
    return 0


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=["openvino", "onnxruntime", "ultralytics"], help="override detect.backend")
    parser.add_argument("--device", choices=["cpu", "cuda"], help="override detect.device")
    parser.add_argument("--model", help="override detect.model_path")
    parser.add_argument("--batch", type=int, help="override detect.max_batch")
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16", "int8"],
                        help="override detect.precision (openvino)")


def register(sub) -> None:
    detect = sub.add_parser("detect", help="run the detect service (frames in, detections out)")
    detect.add_argument("--config", required=True)
    detect.add_argument("--group", help=f"consumer group (default {'storesight-detect'})")
    detect.set_defaults(func=_cmd_detect)

    detect_file = sub.add_parser("detect-file", help="detect and track people in a video file, without Kafka; "
                                 "writes JSON lines (one per frame, see services/detect/README.md)")
    detect_file.add_argument("video")
    detect_file.add_argument("--out", help="output file (default: stdout)")
    detect_file.add_argument("--config", help="take pipeline.detect settings from this config file")
    detect_file.add_argument("--every", type=int, default=1, help="process every N-th frame (default 1)")
    detect_file.add_argument("--start-time", help="capture time of frame 0, ISO 8601 (default 1970-01-01T00:00:00Z)")
    detect_file.add_argument("--camera", default="file",
                             help="camera id; with --config, that camera's ignore_regions and "
                             "detect_input_size/_fit apply")
    detect_file.add_argument("--input-size", type=_input_size,
                             help="model input long side, a multiple of 32 (default: the camera's, else input_size)")
    detect_file.add_argument("--input-fit", choices=["frame", "square"],
                             help="model input of the frame's aspect or square (default: the camera's, else input_fit)")
    _add_model_options(detect_file)
    detect_file.set_defaults(func=_cmd_detect_file)

    quant = sub.add_parser("detect-quantize", help="make the INT8 person model (NNCF post-training quantization, "
                           "calibrated on frames of the given videos) for precision: int8")
    quant.add_argument("--calibration", nargs="+", required=True, help="video files to calibrate on")
    quant.add_argument("--out", help="OpenVINO IR to write (default ~/.cache/storesight/detect-int8/best_fp16_int8.xml)")
    quant.add_argument("--frames", type=int, default=300, help="calibration frames, spread over the videos")
    quant.add_argument("--model", help="ONNX model to quantize (default: the shipped person detector)")
    quant.add_argument("--input-size", type=int, default=640)
    quant.set_defaults(func=_cmd_detect_quantize)
