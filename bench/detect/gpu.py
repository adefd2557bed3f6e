"""GPU benchmark: frames/s of the ultralytics backend (FP16) for batch sizes 1..64, JPEG decode included.

Runs on any CUDA machine with torch, torchvision and ultralytics; without CUDA it says so and
exits 0. Per batch: JPEG bytes -> GPU decode (torchvision/nvJPEG; ``--cpu-decode`` uses OpenCV
in a thread pool) -> letterbox on the GPU -> FP16 forward -> confidence filter + NMS on the GPU
-> boxes back on the host. ``python -m bench.detect.gpu [--frames 1024] [--batches 1,2,4,...]``.
Target: >= 2,000 frames/s on an H100-class GPU.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from services.detect.letterbox import PAD_VALUE


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=1024, help="frames per batch size")
    parser.add_argument("--batches", default="1,2,4,8,16,32,64")
    parser.add_argument("--size", type=int, default=640)
    parser.add_argument("--cpu-decode", action="store_true", help="decode JPEGs with OpenCV threads")
    parser.add_argument("--model", help="weights (.pt); default: the shipped person detector")
    args = parser.parse_args()
    os.environ.setdefault("YOLO_OFFLINE", "1")
    try:
        import torch
        import torch.nn.functional as F  # noqa: N812
        import torchvision
    except ImportError as exc:
        print(f"GPU benchmark skipped: {exc}")
        return 0
    if not torch.cuda.is_available():
        print("GPU benchmark skipped: no CUDA device")
        return 0

    from bench.detect.frames import intel_jpegs
    from services.detect.backends import load_backend

    backend = load_backend("ultralytics", "cuda", args.model, args.size, 0.35, 0.5)
    device = torch.device("cuda:0")
    jpegs = intel_jpegs(args.frames)
    encoded = [torch.frombuffer(bytearray(j), dtype=torch.uint8) for j in jpegs]
    pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 4)
    print(f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"model {backend.model_name}, input {args.size}, decode {'cpu' if args.cpu_decode else 'gpu'}")

    def decode(batch_bytes):
        if args.cpu_decode:
            import cv2

            images = list(pool.map(lambda j: cv2.imdecode(np.frombuffer(j.numpy(), np.uint8), cv2.IMREAD_COLOR),
                                   batch_bytes))
            return [torch.from_numpy(i[..., ::-1].copy()).permute(2, 0, 1).to(device, non_blocking=True)
                    for i in images]
        return torchvision.io.decode_jpeg(batch_bytes, device=device)  # list of CHW uint8 RGB

    def letterbox(images):
        size = args.size
        out = torch.full((len(images), 3, size, size), PAD_VALUE / 255, device=device, dtype=torch.float16)
        for i, image in enumerate(images):
            _, h, w = image.shape
            scale = min(size / w, size / h)
            nw, nh = round(w * scale), round(h * scale)
            px, py = (size - nw) // 2, (size - nh) // 2
            resized = F.interpolate(image[None].half() / 255, size=(nh, nw), mode="bilinear", align_corners=False)
            out[i, :, py:py + nh, px:px + nw] = resized[0]
        return out

    def postprocess(output):
        results = []
        scores, _ = output[:, 4:].max(dim=1)
        for b in range(output.shape[0]):
            keep = scores[b] >= 0.35
            cx, cy, w, h = output[b, :4, keep]
            boxes = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=1).float()
            kept = torchvision.ops.nms(boxes, scores[b, keep].float(), 0.5)
            results.append(torch.cat([boxes[kept], scores[b, keep][kept, None].float()], 1))
        return [r.cpu().numpy() for r in results]

    def run(batch_size: int) -> tuple[float, int]:
        people = 0
        torch.cuda.synchronize()
        started = time.perf_counter()
        for i in range(0, len(encoded), batch_size):
            images = decode(encoded[i:i + batch_size])
            output = backend.forward(letterbox(images))
            people += sum(len(r) for r in postprocess(output))
        torch.cuda.synchronize()
        return len(encoded) / (time.perf_counter() - started), people

    best = 0.0
    for batch_size in (int(b) for b in args.batches.split(",")):
        run(batch_size)  # warm-up (cuDNN autotune, allocator)
        fps, people = run(batch_size)
        best = max(best, fps)
        print(f"batch {batch_size:3d}: {fps:9.1f} frames/s  ({people} people in {len(encoded)} frames)")
    print(f"best: {best:.1f} frames/s (target >= 2000 on an H100-class GPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
