"""The console as a real process for tests: a small region config with a synthetic camera
(an image folder: a plain scene, a figure in a minority of frames), users from the environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import requests

from services.console.auth import hash_password

REPO = Path(__file__).resolve().parents[2]
# The live view reads storesight:live:<store> here: a database of its own, apart from other tests.
REDIS_URL = "redis://127.0.0.1:6379/11"
PASSWORDS = {"ina": "installer-pass-1", "vic": "viewer-pass-2"}
SECRET_KEY = "test-console-secret-key-0123456789abcdef"

CONFIG = """\
# A hand-written comment and keys the console must not touch.
region: test
pipeline:
  aggregate:
    window_s: 10
stores:
  - id: shop
    name: Test shop
    timezone: Europe/Lisbon
    cameras:
      - id: cam-a
        source: frames
        fps: 5
        floor:
          image: [[0.1, 0.5], [0.9, 0.5], [0.9, 0.9], [0.1, 0.9]]
          floor: [[0.0, 0.0], [8.0, 0.0], [8.0, 4.0], [0.0, 4.0]]
        zones:
          - id: till
            kind: checkout
            capacity: 2
            polygon: [[0.1, 0.1], [0.3, 0.1], [0.3, 0.3]]
      - id: cam-b
        source: frames
    rules:
      - id: till-busy
        metric: occupancy
        zone: till
        op: ">="
        threshold: 2
        for_s: 5
        channels: [sms]
"""


PERSON_FRAMES = (2, 5)


def person_box(index: int) -> tuple[int, int, int, int]:
    """Where the 'person' stands in frame ``index`` (x0, y0, x1, y1 pixels)."""
    return 260 + 20 * index, 120, 330 + 20 * index, 300


def write_scene(folder: Path, frames: int = 9, person_frames: tuple[int, ...] = PERSON_FRAMES) -> np.ndarray:
    """A static scene as PNGs, with a bright 'person' block in a few frames; returns the empty scene."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    coarse = rng.integers(40, 200, size=(18, 32, 3), dtype=np.uint8)  # smooth: JPEG keeps it faithfully
    scene = cv2.resize(coarse, (640, 360), interpolation=cv2.INTER_LINEAR)
    for i in range(frames):
        frame = scene.copy()
        if i in person_frames:
            x0, y0, x1, y1 = person_box(i)
            frame[y0:y1, x0:x1] = (30, 220, 250)
        cv2.imwrite(str(folder / f"{i:03d}.png"), frame)
    return scene


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Console:
    url: str
    config_path: Path
    process: subprocess.Popen
    log_path: Path

    def stop(self) -> str:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        return self.log_path.read_text(encoding="utf-8")


def users_env() -> str:
    # Few iterations keep the tests fast on a loaded machine; the format is the real one.
    return ",".join([f"ina:installer:{hash_password(PASSWORDS['ina'], iterations=20_000)}",
                     f"vic:viewer:{hash_password(PASSWORDS['vic'], iterations=20_000)}"])


def start_console(tmp: Path, writable: bool = True, extra_env: dict[str, str] | None = None,
                  config_text: str | None = None) -> Console:
    write_scene(tmp / "frames")
    config_path = tmp / "config.yaml"
    text = config_text or CONFIG.replace("source: frames", f"source: dir://{tmp / 'frames'}")
    config_path.write_text(text, encoding="utf-8")
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO), CONSOLE_USERS=users_env(), CONSOLE_SECRET_KEY=SECRET_KEY,
               REDIS_URL=REDIS_URL, **(extra_env or {}))
    log_path = tmp / "console.log"
    cmd = [sys.executable, "-m", "services.console", "--config", str(config_path), "--host", "127.0.0.1",
           "--port", str(port)] + (["--writable"] if writable else [])
    process = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log_path.open("w"), stderr=subprocess.STDOUT)
    url = f"http://localhost:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("console exited: " + log_path.read_text())
        try:
            if requests.get(url + "/readyz", timeout=2).status_code == 200:
                return Console(url, config_path, process, log_path)
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("console did not become ready: " + log_path.read_text())


class Client:
    """A signed-in HTTP client over plain http to localhost. The session cookie is Secure
    (as a browser on localhost accepts); ``requests`` would not send it back over http, so
    the cookie jar is told to, after checking every Set-Cookie carries the flags."""

    def __init__(self, console: Console):
        self.url = console.url
        self.http = requests.Session()
        self.csrf = ""

    def _keep(self, response: requests.Response) -> requests.Response:
        cookie = response.headers.get("Set-Cookie")
        if cookie:
            flags = {part.strip().lower() for part in cookie.split(";")[1:]}
            assert {"secure", "httponly", "samesite=strict"} <= flags, cookie
        for jar_cookie in self.http.cookies:
            jar_cookie.secure = False
        found = re_csrf(response.text)
        if found:
            self.csrf = found
        return response

    def get(self, path: str) -> requests.Response:
        return self._keep(self.http.get(self.url + path, allow_redirects=False, timeout=60))

    def post(self, path: str, **kwargs) -> requests.Response:
        return self._keep(self.http.post(self.url + path, allow_redirects=False, timeout=60, **kwargs))

    def login(self, name: str, password: str | None = None) -> requests.Response:
        self.get("/login")
        response = self.post("/login", data={"username": name, "password": password or PASSWORDS[name],
                                             "csrf_token": self.csrf, "next": "/"})
        if response.status_code == 302:
            self.get(response.headers["Location"])  # as a browser would: the new session's token
        return response

    def save(self, camera: str, layout: dict, mode: str = "save", csrf: str | None = None) -> requests.Response:
        return self.post(f"/api/cameras/{camera}/layout", json={"mode": mode, "layout": layout},
                         headers={"X-CSRF-Token": self.csrf if csrf is None else csrf})


def sign_in(browser, console: Console, name: str):
    """A new browser context signed in as ``name``; returns its page (on the camera list)."""
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.goto(console.url + "/")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORDS[name])
    page.click("button[type=submit]")
    page.wait_for_url(console.url + "/")
    return page


def re_csrf(html: str) -> str | None:
    import re

    match = re.search(r'name="csrf(?:_token|-token)" (?:value|content)="([^"]+)"', html)
    return match.group(1) if match else None
