"""Stand-in detector output for the Intel clip, until the detect service writes JSONL itself.

    python -m bench.aggregate.intel_detections MODEL.onnx CLIP.mp4 OUT.jsonl [--stride 2] [--start ...]

Runs the person model (Ultralytics ONNX export, output (1, 4 + classes, anchors)) on every frame,
keeps boxes above 0.35 after NMS, links them into tracks by greedy IoU, and writes the JSONL
format of services/aggregate/detections_file.py. Plain numpy/OpenCV/onnxruntime only, so it
runs on any machine (a GPU node included) without the rest of the project.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json

import numpy as np


def letterbox(frame: np.ndarray, size: int) -> tuple[np.ndarray, float, int, int]:
    import cv2

    h, w = frame.shape[:2]
    scale = size / max(h, w)
    nh, nw = round(h * scale), round(w * scale)
    top, left = (size - nh) // 2, (size - nw) // 2
    canvas = np.full((size, size, 3), 114, dtype=np.uint8)
    canvas[top:top + nh, left:left + nw] = cv2.resize(frame, (nw, nh))
    blob = canvas[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255.0
    return blob, scale, left, top


def detect(session, frame: np.ndarray, size: int, conf: float) -> list[tuple[list[float], float]]:
    import cv2

    h, w = frame.shape[:2]
    blob, scale, left, top = letterbox(frame, size)
    out = session.run(None, {session.get_inputs()[0].name: blob})[0][0]  # (4 + classes, anchors)
    scores = out[4:].max(axis=0)
    keep = scores >= conf
    cx, cy, bw, bh = out[:4, keep]
    x1, y1 = (cx - bw / 2 - left) / scale, (cy - bh / 2 - top) / scale
    x2, y2 = (cx + bw / 2 - left) / scale, (cy + bh / 2 - top) / scale
    boxes = [[float(a), float(b), float(c - a), float(d - b)] for a, b, c, d in zip(x1, y1, x2, y2, strict=True)]
    chosen = cv2.dnn.NMSBoxes(boxes, scores[keep].tolist(), conf, 0.5)
    result = []
    for i in np.asarray(chosen).reshape(-1):
        x, y, bw_, bh_ = boxes[i]
        box = [max(0.0, x / w), max(0.0, y / h), min(1.0, (x + bw_) / w), min(1.0, (y + bh_) / h)]
        result.append((box, float(scores[keep][i])))
    return result


def iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class IouTracker:
    """Greedy IoU association with a short memory (frames) for missed detections."""

    def __init__(self, threshold: float = 0.2, max_age: int = 15):
        self.threshold, self.max_age = threshold, max_age
        self.tracks: dict[int, tuple[list[float], int]] = {}
        self.next_id = 1

    def update(self, boxes: list[list[float]], frame: int) -> list[int]:
        ids = [0] * len(boxes)
        pairs = sorted(((iou(b, tb), k, tid) for k, b in enumerate(boxes)
                        for tid, (tb, _) in self.tracks.items()), reverse=True)
        used_k, used_t = set(), set()
        for score, k, tid in pairs:
            if score < self.threshold or k in used_k or tid in used_t:
                continue
            ids[k] = tid
            used_k.add(k)
            used_t.add(tid)
        for k, box in enumerate(boxes):
            if ids[k] == 0:
                ids[k] = self.next_id
                self.next_id += 1
            self.tracks[ids[k]] = (box, frame)
        self.tracks = {t: v for t, v in self.tracks.items() if frame - v[1] <= self.max_age}
        return ids


def main(argv: list[str] | None = None) -> int:
    import cv2
    import onnxruntime as ort

    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("clip")
    parser.add_argument("out")
    parser.add_argument("--start", default="2026-11-20T10:00:00+00:00")
    parser.add_argument("--conf", type=float, default=0.35)
    parser.add_argument("--stride", type=int, default=1, help="detect every Nth frame (ingest's sampled fps)")
    args = parser.parse_args(argv)
    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    start = dt.datetime.fromisoformat(args.start.replace("Z", "+00:00"))
    cap = cv2.VideoCapture(args.clip)
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
    tracker = IouTracker(max_age=15 * args.stride)
    index = 0
    with open(args.out, "w", encoding="utf-8") as fh:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if index % args.stride:
                index += 1
                continue
            found = detect(session, frame, 640, args.conf)
            ids = tracker.update([b for b, _ in found], index)
            t = start + dt.timedelta(seconds=index / fps)
            persons = [{"box": b, "conf": c, "track_id": i, "foot": [(b[0] + b[2]) / 2, b[3]]}
                       for (b, c), i in zip(found, ids, strict=True)]
            fh.write(json.dumps({"frame": index, "capture_time": t.isoformat(), "persons": persons}) + "\n")
            index += 1
    print(f"{args.out}: {index} frames")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
