"""``storesight zones preview --config FILE --camera ID --out PNG`` (drawing: ``tools.preview``)."""

from __future__ import annotations

import argparse


def _cmd_zones_preview(args: argparse.Namespace) -> int:
    import cv2

    from storesight.config import ConfigError, load_config
    from storesight.video import reference_frame
    from tools.preview import draw_layout, draw_on_plan

    try:
        config = load_config(args.config)
        store, camera = config.camera(args.camera)
    except ConfigError as exc:
        print(f"{args.config}: {len(exc.problems)} problem(s)")
        for problem in exc.problems:
            print(f"  {problem}")
        return 2
    except KeyError as exc:
        print(exc.args[0])
        return 2
    try:
        frame = reference_frame(camera.source, samples=args.samples, at_s=args.at)
    except OSError as exc:
        print(f"camera {camera.id}: {exc}")
        return 1
    if frame.shape[1] > camera.max_width:
        scale = camera.max_width / frame.shape[1]
        frame = cv2.resize(frame, (camera.max_width, round(frame.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    if not cv2.imwrite(args.out, draw_layout(frame, camera)):
        print(f"cannot write {args.out} (use a .png name in an existing folder)")
        return 1
    print(f"wrote {args.out}: camera {camera.id}, {len(camera.zones)} zone(s), {len(camera.lines)} line(s), "
          f"{frame.shape[1]}x{frame.shape[0]}")
    if args.plan_out:
        if store.floor_plan is None or camera.floor is None:
            print(f"--plan-out needs the store's floor_plan and camera {camera.id}'s floor calibration")
            return 2
        plan = cv2.imread(store.floor_plan.image)
        if plan is None:
            print(f"cannot read the floor plan image {store.floor_plan.image}")
            return 1
        if not cv2.imwrite(args.plan_out, draw_on_plan(frame, camera, plan, store.floor_plan.metres_per_pixel)):
            print(f"cannot write {args.plan_out} (use a .png name in an existing folder)")
            return 1
        print(f"wrote {args.plan_out}: camera {camera.id} projected on the floor plan")
    return 0


def register(sub) -> None:
    zones = sub.add_parser("zones", help="calibration: draw a camera's zones and lines on its picture")
    zones_sub = zones.add_subparsers(dest="action", required=True)
    preview = zones_sub.add_parser("preview", help="write a PNG of a reference frame with zones and lines")
    preview.add_argument("--config", required=True)
    preview.add_argument("--camera", required=True, help="camera id")
    preview.add_argument("--out", required=True, help="PNG file to write")
    preview.add_argument("--samples", type=int, default=40,
                         help="files: frames sampled to find the empty scene (else their per-pixel median)")
    preview.add_argument("--at", type=float, default=None,
                         help="files: use the single frame at this second instead (pick a moment the scene is empty)")
    preview.add_argument("--plan-out", default=None,
                         help="also write the picture projected on the store's floor plan (checks the calibration)")
    preview.set_defaults(func=_cmd_zones_preview)
