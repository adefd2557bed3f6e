"""``storesight zones preview`` on the demo store (the labelled Intel clip)."""

from __future__ import annotations

import cv2
import numpy as np

from storesight.config import load_config
from storesight.video import reference_frame
from tools import cli
from tools.synth.people import intel_background

DEMO_CONFIG = "examples/demo-store.yaml"


def test_demo_store_preview_draws_zones_on_a_people_free_frame(intel_clip, tmp_path, capsys):
    png = tmp_path / "demo.png"
    assert cli.main(["zones", "preview", "--config", DEMO_CONFIG, "--camera", "cam-table", "--out", str(png)]) == 0
    assert "2 zone(s), 1 line(s)" in capsys.readouterr().out
    drawn = cv2.imread(str(png)).astype(np.int16)
    plain = reference_frame(str(intel_clip)).astype(np.int16)
    assert drawn.shape == plain.shape == (432, 768, 3)
    # The reference frame found the empty room: it matches the median of the frames labelled empty.
    assert np.abs(plain - intel_background().astype(np.int16)).mean() < 3

    def changed(x, y):
        return int(np.abs(drawn[int(y * 431), int(x * 767)] - plain[int(y * 431), int(x * 767)]).sum())

    assert changed(0.45, 0.70) > 40  # table zone (over the floor zone)
    assert changed(0.15, 0.80) > 40  # floor zone only
    assert changed(0.30, 0.30) < 10  # the wall: no zone
    line = load_config(DEMO_CONFIG).camera("cam-table")[1].lines[0]
    assert changed((line.a[0] + line.b[0]) / 2, 0.15) > 100  # the exit line (off its arrow and label)
