"""``storesight calibrate VIDEO --config FILE --camera ID``: propose a camera's ``ignore_regions``.

Runs the camera's detector (its config's ``pipeline.detect``) over a sample clip of that camera
and proposes an ignore region around every person-shaped thing that stays in one place for
most of the sample (``services.detect.fixtures.propose_regions``): mannequins, posters, a
figure at the end of a corridor. It prints the YAML to paste under the camera and, with
``--out``, the zones preview PNG with the proposed regions drawn, for the installer to check
against the picture. Use a sample much longer than people stand still (15 minutes or more): in
a short one, a person standing for most of it is proposed too.
"""

from __future__ import annotations

import argparse

MIN_SAMPLE_S = 900.0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    import cv2

    from services.detect.backends import load_backend
    from services.detect.fixtures import propose_regions
    from services.detect.pipeline import normalise
    from storesight.config import load_config
    from storesight.video import every_nth_frame, reference_frame
    from tools.preview import draw_layout

    config = load_config(args.config)
    _store, camera = config.camera(args.camera)
    s = config.pipeline.detect
    backend = load_backend(s.backend, s.device, s.model_path, s.input_size, s.track_low_confidence, s.iou, s.max_batch,
                           s.tensorrt)
    frames, pending = [], []

    def flush() -> None:
        boxes, _ = backend.detect([image for _, _, image in pending])
        for (_, t, image), people in zip(pending, boxes, strict=True):
            frames.append((t, normalise(people, image.shape[1], image.shape[0])))
        pending.clear()

    for item in every_nth_frame(args.video, args.every):
        pending.append(item)
        if len(pending) >= s.max_batch:
            flush()
    if pending:
        flush()
    regions = [[(round(x, 4), round(y, 4)) for x, y in region] for region in propose_regions(frames)]
    duration = frames[-1][0] - frames[0][0] if frames else 0.0
    print(f"# {len(frames)} frames, {duration:.0f} s of {args.video}: {len(regions)} static figure(s)")
    if duration < MIN_SAMPLE_S:
        print(f"# the sample is shorter than {MIN_SAMPLE_S:.0f} s: a person standing still for most of it "
              "would be proposed too; check the regions on the preview")
    print(f"# cameras[id={camera.id}].ignore_regions (foot points inside are not people):")
    print("ignore_regions:")
    for region in [*camera.ignore_regions, *regions]:
        print("  - [" + ", ".join(f"[{x}, {y}]" for x, y in region) + "]")
    if args.out:
        proposed = camera.model_copy(update={"ignore_regions": [*camera.ignore_regions, *regions]})
        frame = reference_frame(args.video)
        if not cv2.imwrite(args.out, draw_layout(frame, proposed)):
            print(f"cannot write {args.out} (use a .png name in an existing folder)")
            return 1
        print(f"# wrote {args.out}")
    return 0


def register(sub) -> None:
    calibrate = sub.add_parser("calibrate", help="propose a camera's ignore_regions (static person-shaped "
                               "things) from a sample clip of it")
    calibrate.add_argument("video", help="a sample clip of the camera (15 minutes or more)")
    calibrate.add_argument("--config", required=True)
    calibrate.add_argument("--camera", required=True, help="camera id")
    calibrate.add_argument("--every", type=int, default=5, help="process every N-th frame (default 5)")
    calibrate.add_argument("--out", help="also write the zones preview PNG with the proposed regions")
    calibrate.set_defaults(func=_cmd_calibrate)
