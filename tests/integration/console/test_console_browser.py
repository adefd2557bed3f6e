"""The calibration editor in a real browser: the Debian chromium, headless, driven by Playwright
(no browser download). An installer draws a zone and a line with the mouse, moves the zone and
saves; ``storesight config check`` accepts the file and its coordinates are what was drawn. A
two-point polygon is refused at its shape; a viewer's save is refused (403)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import yaml

from tests.support.console import REDIS_URL, REPO, sign_in, start_console
from tests.support.servers import ensure_redis


@pytest.fixture
def console(tmp_path):
    ensure_redis()
    running = start_console(tmp_path)
    yield running
    running.stop()


def open_camera(page, console, camera: str):
    page.goto(f"{console.url}/cameras/{camera}")
    deadline = time.monotonic() + 60  # wait_for_function would eval a string, which the page's CSP forbids
    while not page.evaluate("() => document.getElementById('background').naturalWidth > 0"):
        assert time.monotonic() < deadline, "the background picture did not load"
        time.sleep(0.1)
    return page.locator("#overlay").bounding_box()


def click_at(page, box, x: float, y: float) -> None:
    page.mouse.click(box["x"] + x * box["width"], box["y"] + y * box["height"])


def camera_b(path: Path) -> dict:
    return yaml.safe_load(path.read_text())["stores"][0]["cameras"][1]


def close(actual, expected, tolerance: float = 0.01) -> bool:
    return all(abs(a - e) <= tolerance for pa, pe in zip(actual, expected, strict=True) for a, e in zip(pa, pe, strict=True))


def test_draw_move_save_and_config_check(browser, console) -> None:
    page = sign_in(browser, console, "ina")
    box = open_camera(page, console, "cam-b")
    page.click("text=New zone")
    corners = [(0.2, 0.3), (0.5, 0.3), (0.5, 0.7), (0.2, 0.7)]
    for x, y in corners:
        click_at(page, box, x, y)
    page.click("#finish")
    page.click("text=New line")
    click_at(page, box, 0.8, 0.1)
    click_at(page, box, 0.8, 0.9)
    # Move the zone 0.1 to the right by dragging its inside.
    page.click("text=Select / move")
    page.mouse.move(box["x"] + 0.35 * box["width"], box["y"] + 0.5 * box["height"])
    page.mouse.down()
    page.mouse.move(box["x"] + 0.40 * box["width"], box["y"] + 0.5 * box["height"], steps=3)
    page.mouse.move(box["x"] + 0.45 * box["width"], box["y"] + 0.5 * box["height"], steps=3)
    page.mouse.up()
    page.click("#save")
    page.locator("#status", has_text="Saved to the config file").wait_for()

    check = subprocess.run([sys.executable, "-m", "tools", "config", "check", str(console.config_path)],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    camera = camera_b(console.config_path)
    assert [z["id"] for z in camera["zones"]] == ["zone-1"]
    assert close(camera["zones"][0]["polygon"], [(x + 0.1, y) for x, y in corners])
    line = camera["lines"][0]
    assert close([line["a"], line["b"]], [(0.8, 0.1), (0.8, 0.9)])
    assert yaml.safe_load(console.config_path.read_text())["stores"][0]["rules"][0]["id"] == "till-busy"


def test_a_two_point_polygon_is_refused_at_the_shape(browser, console) -> None:
    before = console.config_path.read_text()
    page = sign_in(browser, console, "ina")
    box = open_camera(page, console, "cam-b")
    page.click("text=New zone")
    click_at(page, box, 0.1, 0.1)
    click_at(page, box, 0.4, 0.2)
    page.click("#finish")
    page.click("#save")
    error = page.locator('[data-shape-error="zones/0"]')
    error.wait_for()
    assert "needs at least 3 points" in error.text_content()
    assert "needs at least 3 points" in page.locator('#problems li[data-shape="zones/0"]').text_content()
    assert console.config_path.read_text() == before
    page.click("#delete")  # the refused shape can be deleted, and the rest saves
    page.click("#save")
    page.locator("#status", has_text="Saved to the config file").wait_for()


def test_a_viewer_cannot_save(browser, console) -> None:
    before = console.config_path.read_text()
    page = sign_in(browser, console, "vic")
    open_camera(page, console, "cam-a")
    assert page.locator("#save").count() == 0 and page.locator("text=New zone").count() == 0
    # The camera's floor-plan calibration is drawn over the picture (read-only): its four points.
    assert page.locator(".floor-point").count() == 4
    assert "2: (8, 0) m" in page.locator("#overlay").text_content()
    status = page.evaluate("""async () => {
        const csrf = document.querySelector('meta[name="csrf-token"]').content;
        const response = await fetch('/api/cameras/cam-a/layout', {method: 'POST', credentials: 'same-origin',
            headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
            body: JSON.stringify({mode: 'save', layout: {zones: []}})});
        return response.status;
    }""")
    assert status == 403
    assert console.config_path.read_text() == before


def test_the_live_page_refreshes_without_reloading(browser, console) -> None:
    store = redis.Redis.from_url(REDIS_URL)
    key = "storesight:live:shop"

    def publish(till: int, cameras: tuple[int, int]) -> None:
        store.hset(key, mapping={
            "till": json.dumps({"zone_kind": "checkout", "status": "ok", "occupancy": till}),
            "camera:cam-a": json.dumps({"zone_kind": "camera", "status": "ok", "occupancy": cameras[0],
                                        "effective_fps": 2.5 + till}),
            "camera:cam-b": json.dumps({"zone_kind": "camera", "status": "ok", "occupancy": cameras[1]})})
        store.expire(key, 60)

    publish(1, (1, 0))
    try:
        page = sign_in(browser, console, "vic")
        page.goto(console.url + "/stores/shop/live")
        page.locator('#zones tr[data-id="till"] td.occupancy', has_text="1 / 2").wait_for()
        page.locator("#store-occupancy", has_text="1").wait_for()
        page.locator('#cameras tr[data-id="cam-a"] td.fps', has_text="3.5 fps").wait_for()
        assert page.locator('#cameras tr[data-id="cam-b"] td.fps').inner_text() == "unknown"  # no rate published
        page.evaluate("() => { window.notReloaded = true; }")
        publish(2, (2, 1))
        page.locator('#zones tr[data-id="till"] td.occupancy', has_text="2 / 2").wait_for(timeout=15000)
        page.locator("#store-occupancy", has_text="3").wait_for()
        page.locator('#cameras tr[data-id="cam-a"] td.fps', has_text="4.5 fps").wait_for()
        assert page.evaluate("() => window.notReloaded === true")
    finally:
        store.delete(key)
