"""``storesight analyze`` on the first 22 s of the labelled Intel clip (visit 1: frames 61-197).

Runs the real detector (every 5th frame, 2 fps) as a subprocess, then checks the report folder
and that its CSV says exactly what the aggregation core says when fed the same detections
through the aggregate service's own file reader.
"""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest

from services.aggregate.aggregator import Aggregator
from services.aggregate.detections_file import read_detections_jsonl
from services.aggregate.records import WindowStats
from storesight.config import load_config
from tests.support.servers import REPO

PNG = b"\x89PNG\r\n\x1a\n"
CONFIG = REPO / "examples" / "demo-store.yaml"


@pytest.fixture(scope="module")
def report(intel_clip, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    done = subprocess.run(
        [sys.executable, "-m", "tools", "analyze", str(intel_clip), "--config", str(CONFIG),
         "--every", "5", "--until", "22", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return out, done.stdout


def read_csv(path):
    with open(path, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_report_folder_has_the_page_plots_heatmap_and_tables(report):
    out, stdout = report
    page = (out / "report.html").read_text()
    for name in ("occupancy", "entries_exits", "dwell", "queues"):
        png = out / "plots" / f"{name}.png"
        assert png.read_bytes()[:8] == PNG
        assert f'src="plots/{name}.png"' in page
    assert (out / "heatmap.png").read_bytes()[:8] == PNG and 'src="heatmap.png"' in page
    for name in ("windows", "visits", "timeline"):
        assert read_csv(out / f"{name}.csv"), name
    assert "report:" in stdout and "line right-exit" in stdout


@pytest.mark.slow
def test_csv_matches_the_aggregator_fed_the_same_detections(report):
    out, _ = report
    config = load_config(CONFIG)
    aggregator = Aggregator(config)
    frames = list(read_detections_jsonl(out / "detections.jsonl", "cam-table"))
    assert 40 <= len(frames) <= 46  # 22 s at 2 fps
    expected = [o for o in aggregator.process(frames) + aggregator.flush() if isinstance(o, WindowStats)]
    rows = read_csv(out / "windows.csv")
    assert len(rows) == len(expected)
    for row, stats in zip(rows, expected, strict=True):
        assert row["zone_id"] == stats.zone_id and row["status"] == stats.status
        for name in ("entries", "exits", "unique_tracks", "occupancy_max"):
            value = getattr(stats, name)
            assert row[name] == ("" if value is None else str(value)), (stats.zone_id, name)
        if stats.occupancy_avg is not None:
            assert float(row["occupancy_avg"]) == pytest.approx(stats.occupancy_avg)
    # The labelled first visit: one visitor, standing at the table for ~11 s, leaving right.
    exits = sum(int(r["exits"] or 0) for r in rows if r["zone_id"] == "line:right-exit")
    visitors = sum(int(r["unique_tracks"] or 0) for r in rows if r["zone_id"] == "camera:cam-table")
    assert (exits, visitors) == (1, 1)
    assert exits == aggregator.state.line_totals[("demo-store", "right-exit")][1]
    table = [float(v["dwell_s"]) for v in read_csv(out / "visits.csv") if v["zone_id"] == "table"]
    assert max(table) >= 8.0
