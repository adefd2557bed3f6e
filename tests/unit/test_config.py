"""The config model: the demo file passes; every broken example names its bad key."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from storesight.config import ConfigError, TimeRange, load_config, parse_config
from tools.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BROKEN = sorted((EXAMPLES / "broken").glob("*.yaml"))


def expectations(path: Path) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(r"^# expect: (.+)$", path.read_text(), re.M)]


def test_demo_config_is_valid():
    config = load_config(EXAMPLES / "demo-store.yaml")
    store = config.store("demo-store")
    assert store.zone("table").capacity == 2
    assert config.camera("cam-table")[1].source.endswith("one-by-one-person-detection.mp4")
    assert Path(config.camera("cam-table")[1].source).is_absolute()


def test_there_are_broken_examples():
    assert len(BROKEN) >= 5


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_example_names_the_bad_key(path, capsys):
    wanted = expectations(path)
    assert wanted, f"{path.name} has no '# expect:' line"
    assert main(["config", "check", str(path)]) == 2
    out = capsys.readouterr().out
    for expected in wanted:
        assert expected in out, f"{expected!r} not in:\n{out}"


def test_cli_exit_code_in_a_real_process():
    proc = subprocess.run([sys.executable, "-m", "tools", "config", "check",
                           str(EXAMPLES / "broken" / "polygon-two-points.yaml")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "stores[0].cameras[0].zones[0].polygon: needs at least 3 points" in proc.stdout


def test_every_problem_is_reported_not_just_the_first():
    data = {"region": "r", "stores": [{"id": "s", "timezone": "Nowhere/City", "cameras": [
        {"id": "c", "source": "x.mp4", "fps": 0, "zones": [{"id": "z", "kind": "shelf", "polygon": [[0, 0]]}]}]}]}
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    text = "\n".join(err.value.problems)
    assert "stores[0].timezone" in text
    assert "stores[0].cameras[0].fps" in text
    assert "stores[0].cameras[0].zones[0].kind" in text
    assert "stores[0].cameras[0].zones[0].polygon: needs at least 3 points" in text


def _store(**overrides):
    base = {"id": "s", "timezone": "America/New_York",
            "cameras": [{"id": "c", "source": "rtsp://h/x",
                         "zones": [{"id": "q", "kind": "queue", "polygon": [[0, 0], [1, 0], [1, 1]]}]}]}
    base.update(overrides)
    return {"region": "r", "stores": [base]}


def test_duplicate_ids_and_hysteresis_direction_are_errors():
    with pytest.raises(ConfigError, match="clear_threshold must not be above threshold"):
        parse_config(_store(rules=[{"id": "r1", "metric": "queue_length", "zone": "q", "op": ">=",
                                    "threshold": 4, "clear_threshold": 6}]))
    data = _store()
    data["stores"].append(dict(data["stores"][0]))
    with pytest.raises(ConfigError, match="stores id 's' is used twice"):
        parse_config(data)


def test_channel_needs_a_matching_recipient_contact():
    with pytest.raises(ConfigError, match="channel email is on but no recipient has a email"):
        parse_config(_store(rules=[{"id": "r1", "metric": "queue_length", "zone": "q", "threshold": 4,
                                    "channels": ["email"], "recipients": [{"name": "m", "phone": "+15550100"}]}]))


def test_time_range_wraps_midnight_in_store_local_time():
    quiet = TimeRange(start="22:00", end="07:00", days=["fri"])
    tz = ZoneInfo("America/New_York")
    assert quiet.contains(dt.datetime(2026, 11, 20, 23, 0, tzinfo=tz))      # Friday night
    assert quiet.contains(dt.datetime(2026, 11, 21, 6, 59, tzinfo=tz))      # Saturday early: Friday's range
    assert not quiet.contains(dt.datetime(2026, 11, 21, 23, 0, tzinfo=tz))  # Saturday night: not listed
    assert not quiet.contains(dt.datetime(2026, 11, 20, 7, 0, tzinfo=tz))


def test_business_hours_use_the_store_time_zone():
    config = parse_config(_store(business_hours=[{"start": "09:00", "end": "17:00"}]))
    store = config.stores[0]
    # 13:30 UTC = 08:30 in New York (EST): closed; 14:30 UTC = 09:30: open.
    assert not store.is_open(dt.datetime(2026, 11, 20, 13, 30, tzinfo=dt.UTC))
    assert store.is_open(dt.datetime(2026, 11, 20, 14, 30, tzinfo=dt.UTC))


def test_schema_is_json_and_describes_the_model(capsys):
    assert main(["config", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "StoreSight region configuration"
    assert "stores" in schema["properties"]
    assert "Zone" in schema["$defs"]
