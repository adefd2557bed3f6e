"""A small HTTP MJPEG camera for tests: ``python -m tests.support.mjpeg_server PORT CLIP [FPS]``.

Serves ``/stream.mjpg`` as multipart/x-mixed-replace, the way IP cameras do, looping the
clip's first frames at FPS. Runs as its own process so a test can kill it mid-stream.
"""

from __future__ import annotations

import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BOUNDARY = "storesightframe"


def load_jpegs(clip: str, count: int = 50, width: int = 384) -> list[bytes]:
    import cv2

    cap = cv2.VideoCapture(clip)
    jpegs = []
    while len(jpegs) < count:
        ok, image = cap.read()
        if not ok:
            break
        height = round(image.shape[0] * width / image.shape[1])
        ok, buf = cv2.imencode(".jpg", cv2.resize(image, (width, height)), [cv2.IMWRITE_JPEG_QUALITY, 80])
        jpegs.append(buf.tobytes())
    cap.release()
    if not jpegs:
        raise SystemExit(f"no frames in {clip}")
    return jpegs


def make_handler(jpegs: list[bytes], fps: float):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server API
            if self.path != "/stream.mjpg":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            i = 0
            try:
                while True:
                    jpeg = jpegs[i % len(jpegs)]
                    self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                                     f"Content-Length: {len(jpeg)}\r\n\r\n".encode() + jpeg + b"\r\n")
                    self.wfile.flush()
                    i += 1
                    time.sleep(1.0 / fps)
            except (BrokenPipeError, ConnectionResetError):
                return

        def log_message(self, *_args):
            return

    return Handler


def main() -> None:
    port, clip = int(sys.argv[1]), sys.argv[2]
    fps = float(sys.argv[3]) if len(sys.argv) > 3 else 10.0
    server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(load_jpegs(clip), fps))
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
