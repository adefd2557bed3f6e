"""The console's pure parts: user list, password hashes, lock-outs, layout edits and their problems."""

from __future__ import annotations

import pytest
import yaml

from services.console.auth import LockoutPolicy, hash_password, parse_users, verify_password
from services.console.layout import apply_layout, camera_layout, dump_yaml, shape_problem

HASH = hash_password("s3cret-pass", iterations=1000)
DATA = {"region": "r", "pipeline": {"aggregate": {"window_s": 10}},
        "stores": [{"id": "s", "timezone": "UTC", "cameras": [
            {"id": "a", "source": "a.mp4"},
            {"id": "b", "source": "relative/b.mp4", "zones": [
                {"id": "q", "kind": "queue", "serves": "till", "polygon": [[0, 0], [0.2, 0], [0.2, 0.2]]},
                {"id": "till", "kind": "checkout", "polygon": [[0.5, 0.5], [0.7, 0.5], [0.7, 0.7]]}]}]}]}


def test_users_parse_and_hashes_verify() -> None:
    users = parse_users(f" ana:installer:{HASH} , bo:viewer:{HASH}")
    assert {u.name: u.can_edit for u in users.values()} == {"ana": True, "bo": False}
    assert verify_password("s3cret-pass", users["ana"].password_hash)
    assert not verify_password("s3cret-pasS", users["ana"].password_hash)
    assert not verify_password("s3cret-pass", "pbkdf2_sha256$1000$zz$00")  # malformed: a mismatch


@pytest.mark.parametrize("text, words", [
    (f"ana:admin:{HASH}", "role must be one of"),
    ("ana:viewer:plaintext", "not from"),
    (f"ana:viewer:{HASH},ana:installer:{HASH}", "listed twice"),
    ("ana:viewer", "expected name:role:hash"),
])
def test_bad_user_lists_are_refused_without_showing_the_hash(text: str, words: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_users(text)
    assert words in str(caught.value) and HASH not in str(caught.value) and "plaintext" not in str(caught.value)


def test_lockout_counts_failures_in_a_window_and_success_resets() -> None:
    now = [0.0]
    guard = LockoutPolicy(max_failures=3, window_s=60, lock_s=120, clock=lambda: now[0])
    guard.failed("ana")
    guard.failed("ana")
    guard.succeeded("ana")
    guard.failed("ana")
    assert guard.locked_for("ana") == 0.0
    now[0] = 100.0  # the first failure fell out of the window
    guard.failed("ana")
    guard.failed("ana")
    assert guard.locked_for("ana") == 0.0
    guard.failed("ana")
    assert guard.locked_for("ana") == 120.0 and guard.locked_for("bo") == 0.0


def test_apply_layout_changes_only_the_camera_and_rounds() -> None:
    result = apply_layout(DATA, "a", {"lines": [{"id": "door", "a": [0.123456, 0], "b": [0.1, 1],
                                                  "in_point": [0.5, 0.5]}]})
    assert result.ok, result.problems
    assert result.data["stores"][0]["cameras"][0]["lines"][0]["a"] == [0.1235, 0]
    assert "zones" not in result.data["stores"][0]["cameras"][0]  # no empty keys added
    assert result.data["stores"][0]["cameras"][1] == DATA["stores"][0]["cameras"][1]
    assert DATA["stores"][0]["cameras"][0] == {"id": "a", "source": "a.mp4"}  # the input is not changed
    text = dump_yaml(result.data)
    assert "a: [0.1235, 0]" in text and "source: relative/b.mp4" in text
    assert yaml.safe_load(text) == result.data


def test_problems_point_at_their_shape_or_the_camera() -> None:
    layout = camera_layout(DATA, "b")
    layout["zones"][1]["polygon"] = [[0.5, 0.5], [0.6, 0.6], [0.7, 0.7]]  # on one line
    layout["lines"] = [{"id": "door", "a": [0.1, 0.1], "b": [0.1, 0.1], "in_point": [0.5, 0.5]}]
    problems = apply_layout(DATA, "b", layout).problems
    assert [p.shape for p in problems] == ["zones/1", "lines/0"]
    assert "no area" in problems[0].message and "two different points" in problems[1].message
    # Deleting the till a queue serves is a camera-level problem (no shape to mark).
    layout = camera_layout(DATA, "b")
    del layout["zones"][1]
    [problem] = apply_layout(DATA, "b", layout).problems
    assert problem.shape == "" and "serves 'till'" in problem.message
    assert shape_problem("stores[0].cameras[1].ignore_regions: each region needs at least 3 points", 0, 1).shape == ""
    assert shape_problem("stores[0].cameras[1].ignore_regions[2][0]: bad", 0, 1).shape == "ignore_regions/2"
