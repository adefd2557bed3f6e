"""The console over real HTTP (a real process): sign-in, CSRF, roles, lock-out, the
people-free picture and saving a layout that ``storesight config check`` accepts."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import redis
import yaml

from tests.support.console import (
    PASSWORDS,
    PERSON_FRAMES,
    REDIS_URL,
    REPO,
    SECRET_KEY,
    Client,
    person_box,
    start_console,
    write_scene,
)
from tests.support.privacy import find_leaks, person_in_picture
from tests.support.servers import ensure_redis


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    ensure_redis()
    running = start_console(tmp_path_factory.mktemp("console"))
    yield running
    log = running.stop()
    for secret in (SECRET_KEY, *PASSWORDS.values(), "pbkdf2_sha256$"):
        assert secret not in log


def test_everything_but_probes_needs_sign_in(console) -> None:
    client = Client(console)
    for path in ("/", "/cameras/cam-a", "/cameras/cam-a/background.jpg"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert "storesight_console_logins_total" in client.get("/metrics").text
    client.get("/login")
    assert client.post("/api/cameras/cam-a/layout", json={}, headers={"X-CSRF-Token": client.csrf}).status_code == 401


def test_every_change_needs_the_csrf_token(console) -> None:
    client = Client(console)
    client.get("/login")
    refused = client.post("/login", data={"username": "ina", "password": PASSWORDS["ina"]})
    assert refused.status_code == 400 and "expired" in refused.text
    assert client.login("ina").status_code == 302
    layout = {"zones": []}
    assert client.save("cam-b", layout, csrf="").status_code == 400
    assert client.save("cam-b", layout, csrf="forged-token").status_code == 400
    assert client.save("cam-b", layout, mode="download").status_code == 200


def test_background_is_the_empty_scene_not_a_frame_with_a_person(console, tmp_path) -> None:
    client = Client(console)
    client.login("vic")
    response = client.get("/cameras/cam-a/background.jpg")
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/jpeg"
    assert "no-store" in response.headers["Cache-Control"]
    picture = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
    scene = write_scene(tmp_path / "again")  # the same seeded scene and figures as the camera's
    with_people = [(cv2.imread(str(tmp_path / "again" / f"{i:03d}.png")), [person_box(i)]) for i in PERSON_FRAMES]
    assert person_in_picture(picture, with_people) == []
    assert person_in_picture(scene, with_people) == []  # the empty scene passes...
    assert len(person_in_picture(with_people[0][0], with_people)) == 1  # ...a frame with its person fails
    x0, y0, x1, y1 = person_box(PERSON_FRAMES[0])
    assert np.abs(picture[y0:y1, x0:x1].astype(np.int16) - scene[y0:y1, x0:x1]).mean() < 8


def test_no_response_but_the_picture_holds_pixels_and_no_log_holds_a_secret(console) -> None:
    """The privacy scan over every page, script and answer of the console, for both roles."""
    findings = {}
    for name in ("vic", "ina"):
        client = Client(console)
        client.login(name)
        for path in ("/", "/cameras/cam-a", "/cameras/cam-b", "/stores/shop/live", "/api/stores/shop/live",
                     "/static/calibrate.js", "/static/live.js", "/static/console.css", "/metrics",
                     "/no-such-page"):
            findings[f"{name} {path}"] = find_leaks(client.get(path).content)
        findings[f"{name} save"] = find_leaks(client.save("cam-b", {"zones": []}, mode="download").content)
    assert {k: v for k, v in findings.items() if v} == {}
    log = console.log_path.read_text()
    assert find_leaks(log) == []
    for secret in (SECRET_KEY, *PASSWORDS.values(), "pbkdf2_sha256$"):
        assert secret not in log


def test_a_viewer_cannot_save(console) -> None:
    before = console.config_path.read_text()
    client = Client(console)
    client.login("vic")
    page = client.get("/cameras/cam-a")
    assert page.status_code == 200 and 'id="save"' not in page.text
    layout = {"zones": [{"id": "till", "kind": "checkout", "polygon": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]}]}
    assert client.save("cam-a", layout).status_code == 403
    assert client.save("cam-a", layout, mode="download").status_code == 403
    assert console.config_path.read_text() == before


def test_a_two_point_polygon_is_refused_at_its_shape(console) -> None:
    client = Client(console)
    client.login("ina")
    layout = {"zones": [{"id": "till", "kind": "checkout", "polygon": [[0.1, 0.1], [0.3, 0.1], [0.3, 0.3]]},
                        {"id": "flat", "kind": "area", "polygon": [[0.5, 0.5], [0.6, 0.6]]}]}
    response = client.save("cam-a", layout)
    assert response.status_code == 422
    assert response.json()["problems"] == [{"shape": "zones/1", "message": "polygon: needs at least 3 points"}]


def test_a_saved_layout_keeps_the_rest_of_the_file_and_passes_config_check(console) -> None:
    client = Client(console)
    client.login("ina")
    original = yaml.safe_load(console.config_path.read_text())
    layout = {"zones": [{"id": "till", "kind": "checkout", "capacity": 2,
                         "polygon": [[0.12345678, 0.1], [0.4, 0.1], [0.4, 0.45]]}],
              "lines": [{"id": "door", "a": [0.6, 0.0], "b": [0.6, 1.0], "in_point": [0.3, 0.5]}],
              "ignore_regions": [[[0.8, 0.8], [0.95, 0.8], [0.95, 0.95]]]}
    response = client.save("cam-a", layout)
    assert response.status_code == 200 and response.json()["saved"] is True
    saved = yaml.safe_load(console.config_path.read_text())
    camera = saved["stores"][0]["cameras"][0]
    assert camera["zones"][0]["polygon"][0] == [0.1235, 0.1]
    assert camera["lines"] == layout["lines"] and camera["ignore_regions"] == layout["ignore_regions"]
    assert saved["pipeline"] == original["pipeline"] and saved["stores"][0]["rules"] == original["stores"][0]["rules"]
    assert saved["stores"][0]["cameras"][1] == original["stores"][0]["cameras"][1]
    check = subprocess.run([sys.executable, "-m", "tools", "config", "check", str(console.config_path)],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    assert client.get("/cameras/cam-a").text.count("door") >= 1  # the page shows the saved layout


def test_repeated_failures_lock_the_user_out_with_a_clear_page(tmp_path) -> None:
    running = start_console(tmp_path)
    try:
        client = Client(running)
        for _ in range(4):
            assert client.login("vic", "wrong-password").status_code == 401
        locked = client.login("vic", "wrong-password")
        assert locked.status_code == 429 and "Too many failed sign-ins" in locked.text
        again = client.login("vic")  # the right password does not open a locked account
        assert again.status_code == 429 and "Traceback" not in again.text
        assert Client(running).login("ina").status_code == 302  # others are not affected
    finally:
        log = running.stop()
    assert "sign-in failed" in log
    for secret in (SECRET_KEY, *PASSWORDS.values(), "wrong-password", "pbkdf2_sha256$"):
        assert secret not in log


def test_live_view_reads_the_aggregate_hash_and_skips_bad_values(console) -> None:
    store = redis.Redis.from_url(REDIS_URL)
    key = "storesight:live:shop"
    store.delete(key)
    store.hset(key, mapping={
        "till": json.dumps({"zone_kind": "checkout", "status": "ok", "occupancy": 2, "queue_length": None,
                            "wait_estimate_s": None, "updated_at": "2026-12-06T10:00:00Z"}),
        "camera:cam-a": json.dumps({"zone_kind": "camera", "status": "ok", "occupancy": 3, "effective_fps": 2.5}),
        "camera:cam-b": b"not json"})
    store.expire(key, 60)
    try:
        client = Client(console)
        assert client.get("/api/stores/shop/live").status_code == 401  # sign-in first
        client.login("vic")
        assert client.get("/stores/shop/live").status_code == 200
        view = client.get("/api/stores/shop/live").json()
        till = next(z for z in view["zones"] if z["id"] == "till")
        assert (till["occupancy"], till["capacity"], till["status"]) == (2, 2, "ok")
        cameras = {c["id"]: c for c in view["cameras"]}
        assert cameras["cam-a"]["occupancy"] == 3 and cameras["cam-b"]["status"] == "no data"
        assert cameras["cam-a"]["effective_fps"] == 2.5 and cameras["cam-b"]["effective_fps"] is None
        store.hset(key, "camera:cam-a", json.dumps({"zone_kind": "camera", "status": "ok", "effective_fps": 0}))
        rate = {c["id"]: c for c in client.get("/api/stores/shop/live").json()["cameras"]}["cam-a"]["effective_fps"]
        assert rate is None  # 0 is detect's "not known yet", never shown as a rate
        assert view["store_occupancy"] is None  # one camera unknown: no store total
        assert "storesight_console_live_values_skipped_total 2.0" in client.get("/metrics").text
        assert client.get("/api/stores/nowhere/live").status_code == 404
    finally:
        store.delete(key)
