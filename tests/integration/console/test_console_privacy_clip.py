"""The console's calibration picture of a real camera (the labelled Intel clip) is the empty
room: checked against the clip's frames labelled as showing someone (privacy scan)."""

from __future__ import annotations

import csv

import cv2
import numpy as np

from storesight.video import frames_at
from tests.support.console import Client, start_console
from tests.support.privacy import find_leaks, person_pixels_in_picture
from tests.support.servers import INTEL_DIR
from tools.synth.people import intel_background

CONFIG = """\
region: test
stores:
  - id: shop
    timezone: Europe/Lisbon
    cameras:
      - id: cam-table
        source: {clip}
"""


def test_the_served_picture_of_the_intel_camera_shows_no_one(intel_clip, tmp_path) -> None:
    console = start_console(tmp_path, config_text=CONFIG.format(clip=intel_clip))
    try:
        client = Client(console)
        client.login("vic")
        reply = client.get("/cameras/cam-table/background.jpg")
        assert reply.status_code == 200
        page = client.get("/cameras/cam-table")
        assert find_leaks(page.content) == []  # the page refers to the picture, never embeds it
    finally:
        console.stop()
    picture = cv2.imdecode(np.frombuffer(reply.content, np.uint8), cv2.IMREAD_COLOR)
    empty = intel_background()
    assert picture.shape == empty.shape == (432, 768, 3)
    assert np.abs(picture.astype(np.int16) - empty).mean() < 4  # the empty room (JPEG aside)
    with (INTEL_DIR / "frame_counts.csv").open() as rows:
        someone = [int(r["frame"]) for r in csv.DictReader(rows) if r["persons"] == "1"]
    picks = [someone[i] for i in np.linspace(0, len(someone) - 1, num=24).astype(int)]
    frames = list(frames_at(intel_clip, picks).values())
    assert len(frames) == 24
    assert person_pixels_in_picture(picture, empty, frames) == []
    # The scan can fail: one of those frames, served instead, would be found.
    assert person_pixels_in_picture(frames[5], empty, frames[5:6]) != []
