"""``storesight aggregate`` (the service), ``storesight heatmap CAMERA`` and ``storesight floor-heatmap
STORE`` (PNGs)."""

from __future__ import annotations

import argparse
import sys


def _cmd_aggregate(args: argparse.Namespace) -> int:
    from services.aggregate.service import run
    from storesight.config import ConfigError, load_config
    from storesight.service import start_service

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    from storesight.startup import StartupError, exit_on_startup_error

    runner = start_service("aggregate", port=args.port)
    try:
        run(config, runner, group=args.group, redis_prefix=args.redis_prefix)
    except StartupError as exc:  # wrong Kafka/Redis credential, CA or protocol: exit 2, not a crash loop
        return exit_on_startup_error("aggregate", exc)
    finally:
        runner.close()
    return 0


def _heatmap_counts(args, config, camera_id: str):
    import json

    import numpy as np

    grid = config.pipeline.aggregate.heatmap_grid
    if args.detections:
        from services.aggregate.detections_file import read_detections_jsonl
        from services.aggregate.heatmap import accumulate

        feet = [tuple(p) for f in read_detections_jsonl(args.detections, camera_id) if f.camera_id == camera_id
                for p in f.feet]
        return accumulate(feet, grid)
    from services.aggregate.service import redis_url_from_env
    from storesight.redis_client import connect_redis

    client = connect_redis(redis_url_from_env(config))
    stored = client.hgetall(f"{args.redis_prefix}heatmap:{camera_id}")
    client.close()
    windows = sorted(stored.items(), key=lambda kv: int(kv[0]))
    if args.window != "all":
        windows = windows[-1:] if args.window == "latest" else [w for w in windows if w[0].decode() == args.window]
    if not windows:
        return None
    return sum(np.asarray(json.loads(v)["counts"], dtype=np.int64) for _, v in windows)


def _cmd_heatmap(args: argparse.Namespace) -> int:
    import cv2

    from services.aggregate.heatmap import file_background, render
    from storesight.config import ConfigError, load_config

    try:
        config = load_config(args.config)
        _, camera = config.camera(args.camera)
    except (ConfigError, KeyError) as exc:
        print(exc, file=sys.stderr)
        return 2
    from storesight.startup import StartupError, exit_on_startup_error

    try:
        counts = _heatmap_counts(args, config, camera.id)
    except StartupError as exc:
        return exit_on_startup_error("heatmap", exc)
    if counts is None:
        print(f"no heatmap windows stored for camera {camera.id!r} (is the aggregate service running?)",
              file=sys.stderr)
        return 1
    try:
        background = file_background(camera.source, samples=args.samples)
    except (OSError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 1
    if not cv2.imwrite(args.out, render(background, counts)):
        print(f"cannot write {args.out}", file=sys.stderr)
        return 1
    print(f"{args.out}: {int(counts.sum())} foot points over a median of {args.samples} frames")
    return 0


def _cmd_floor_heatmap(args: argparse.Namespace) -> int:
    """Every calibrated camera's foot points of the store, on the store's floor plan."""
    import cv2

    from services.aggregate.heatmap import project_grid, render
    from storesight.config import ConfigError, load_config
    from storesight.floorplane import fit_homography

    try:
        config = load_config(args.config)
        store = config.store(args.store)
    except (ConfigError, KeyError) as exc:
        print(exc, file=sys.stderr)
        return 2
    if store.floor_plan is None:
        print(f"store {store.id!r} has no floor_plan in the config", file=sys.stderr)
        return 2
    plan = cv2.imread(store.floor_plan.image)
    if plan is None:
        print(f"cannot read the floor plan image {store.floor_plan.image!r}", file=sys.stderr)
        return 1
    total, used = None, []
    for camera in store.cameras:
        if camera.floor is None:
            continue
        counts = _heatmap_counts(args, config, camera.id)
        if counts is None:
            continue
        h = fit_homography(camera.floor.image, camera.floor.floor)
        heat = project_grid(counts, h, plan.shape[:2], store.floor_plan.metres_per_pixel)
        total = heat if total is None else total + heat
        used.append(camera.id)
    if total is None:
        print(f"no heatmap data for the calibrated cameras of {store.id!r}", file=sys.stderr)
        return 1
    if not cv2.imwrite(args.out, render(plan, total)):
        print(f"cannot write {args.out}", file=sys.stderr)
        return 1
    print(f"{args.out}: {int(total.sum())} foot points of {', '.join(used)} on the floor plan")
    return 0


def register(sub) -> None:
    agg = sub.add_parser("aggregate", help="run the aggregate service (zones, windows, live state)")
    agg.add_argument("--config", required=True)
    agg.add_argument("--group", default="storesight-aggregate", help="consumer group (and checkpoint name)")
    agg.add_argument("--redis-prefix", default="storesight:", help="prefix of every Redis key written")
    agg.add_argument("--port", type=int, default=None, help="HTTP port (default 8083 or STORESIGHT_HTTP_PORT)")
    agg.set_defaults(func=_cmd_aggregate)

    heat = sub.add_parser("heatmap", help="render a camera's foot-point heatmap over a people-free background")
    heat.add_argument("camera")
    _heatmap_arguments(heat)
    heat.add_argument("--samples", type=int, default=31, help="frames in the median background")
    heat.set_defaults(func=_cmd_heatmap)

    plan = sub.add_parser("floor-heatmap", help="render a store's heatmap on its floor plan (calibrated cameras)")
    plan.add_argument("store")
    _heatmap_arguments(plan)
    plan.set_defaults(func=_cmd_floor_heatmap)


def _heatmap_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True, help="PNG file to write")
    parser.add_argument("--window", default="all", help="'all' stored windows, 'latest', or a window start (epoch s)")
    parser.add_argument("--detections", help="count foot points from a detections JSONL file instead of Redis "
                                              "(camera_id on each line for several cameras)")
    parser.add_argument("--redis-prefix", default="storesight:")
