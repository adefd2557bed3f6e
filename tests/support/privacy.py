"""Privacy scanner for tests: finds pixels and per-person attributes in anything a service wrote.

Reuse it on topic payloads, Redis values, log lines and files:

    from tests.support.privacy import find_leaks, assert_no_leaks, check_aggregates
    assert_no_leaks({"topic detections": payloads, "redis": redis_values(client, "storesight:*"), "logs": log_text})
    assert check_aggregates(detections_or_zone_stats, k=5) == []

``find_leaks(data)`` returns human-readable findings (empty = clean) for bytes or str:
- image bytes: JPEG, PNG, GIF, WebP, BMP magic numbers, raw or base64-encoded (also inside JSON);
- face geometry keys: ``face_box``, ``landmarks``, ``crop``, ``chip``, ``face`` holding coordinates;
- per-person attributes: a track/person identifier next to an expression, age band or gender label
  (e.g. ``{"track_id": 7, "expression": "happy"}`` or ``track 7 ... gender=female``).
``person_in_picture(picture, frames_with_boxes)`` checks a served picture (the console's
calibration background) against the frames it came from: no person box of theirs may show.
Aggregates (label -> count maps without any identifier) pass, and so do the label sets of the
agreed per-zone sentiment gauges (``storesight_zone_expression_tracks{...,expression="happy"} 3``:
counts over >= k tracks by contract); an identifier among their labels is still flagged.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping

IMAGE_MAGIC = {
    b"\xff\xd8\xff": "JPEG",
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
    b"BM": None,  # too short to trust alone; checked with its header below
}
# What those magics look like once base64-encoded (at the start of a base64 string).
BASE64_IMAGE_PREFIXES = {"/9j/": "JPEG", "iVBORw0KGgo": "PNG", "R0lGOD": "GIF", "UklGR": "RIFF/WebP"}
ATTRIBUTE_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral", "female", "male",
                    "0-17", "18-29", "30-44", "45-59", "60+")
_LABEL = "|".join(re.escape(label) for label in ATTRIBUTE_LABELS)
_IDENTIFIER = r"(?:track(?:_?id)?|person(?:_?id)?|trackid|\btid)"
# An identifier with a number, then (within 80 characters, same record) an attribute label; or the reverse.
PER_PERSON = re.compile(
    rf"{_IDENTIFIER}\W{{0,4}}\d+[^\n{{}}]{{0,80}}?(?<![\w-])(?:{_LABEL})(?![\w-])"
    rf"|(?<![\w-])(?:{_LABEL})(?![\w-])[^\n{{}}]{{0,80}}?{_IDENTIFIER}\W{{0,4}}\d+",
    re.IGNORECASE,
)
# Matched against the lower-cased text (faster than IGNORECASE on big logs).
ATTRIBUTE_KEYS = re.compile(r"(?<![\w-])(?:expression|emotion|age|age_band|gender)[\"']?\s*[:=]\s*[\"']?(?:" + _LABEL +
                            r"|\d{1,3}(?:\.\d+)?)")
# Label sets of the sentiment gauges' samples (deploy/metrics.py OPT_IN): zone counts, not one person's.
AGGREGATE_SERIES_LABELS = re.compile(r"^storesight_zone_(?:expression|age_band|gender)_tracks\{[^}\n]*\}",
                                     re.MULTILINE)
FACE_GEOMETRY = re.compile(r"(?<![\w-])(?:face_?box(?:es)?|landmarks|face_?crop|crop|chip|face)[\"']?\s*[:=]\s*[\[{(]")
ANY_LABEL = re.compile(rf"(?<![\w-])(?:{_LABEL})(?![\w-])")
BASE64_RUN = re.compile(rb"[A-Za-z0-9+/]{200,}={0,2}")


def _text(data: bytes | str) -> str:
    return data if isinstance(data, str) else data.decode("utf-8", errors="replace")


def _image_magic(raw: bytes) -> list[str]:
    found = []
    for magic, name in IMAGE_MAGIC.items():
        if name and magic in raw:
            found.append(f"{name} image bytes at offset {raw.index(magic)}")
    riff = raw.find(b"RIFF")
    if riff >= 0 and raw[riff + 8:riff + 12] == b"WEBP":
        found.append(f"WebP image bytes at offset {riff}")
    bmp = raw.find(b"BM")
    if bmp >= 0 and len(raw) >= bmp + 18 and raw[bmp + 14:bmp + 18] in (b"\x28\x00\x00\x00", b"\x7c\x00\x00\x00"):
        found.append(f"BMP image bytes at offset {bmp}")
    return found


def find_leaks(data: bytes | str) -> list[str]:
    """Every finding of pixels, face geometry or per-person attributes in ``data`` (empty = clean)."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    findings = _image_magic(raw)
    text = _text(data)
    for prefix, name in BASE64_IMAGE_PREFIXES.items():
        if re.search(rf"(?<![A-Za-z0-9+/]){re.escape(prefix)}", text):
            findings.append(f"base64 {name} image ({prefix}...)")
    for run in BASE64_RUN.findall(raw):
        try:
            decoded = base64.b64decode(run + b"=" * (-len(run) % 4))
        except ValueError:
            continue
        findings.extend(f"base64 run hides {hit}" for hit in _image_magic(decoded[:64]))
    # Only lines that name an attribute label can pair it with a person (fast on big logs).
    lower = text.lower()
    labelled = "\n".join(line for line in lower.splitlines() if ANY_LABEL.search(line))
    findings.extend(f"per-person attribute: {m.group(0)[:120]!r}" for m in PER_PERSON.finditer(labelled))
    keyed = AGGREGATE_SERIES_LABELS.sub("", lower)
    findings.extend(f"attribute of one person: {m.group(0)!r}" for m in ATTRIBUTE_KEYS.finditer(keyed))
    findings.extend(f"face geometry: {m.group(0)!r}" for m in FACE_GEOMETRY.finditer(lower))
    return findings


def assert_no_leaks(sources: Mapping[str, bytes | str | Iterable[bytes | str]]) -> None:
    """Fail with every finding, named by source ("topic detections #12: JPEG image bytes ...")."""
    problems = []
    for name, data in sources.items():
        items = [data] if isinstance(data, (bytes, bytearray, str)) else list(data)
        for i, item in enumerate(items):
            problems.extend(f"{name} #{i}: {finding}" for finding in find_leaks(item))
    assert not problems, "privacy leaks:\n" + "\n".join(problems[:50])


def check_aggregates(messages: Iterable[object], k: int) -> list[str]:
    """Problems with the AttributeAggregate entries of Detections/ZoneStats messages (empty = fine).

    Every group must cover >= k distinct tracks, and no histogram may count more tracks than that.
    Also flags unknown protobuf fields (a newer writer smuggling per-person data).
    """
    problems = []
    for n, message in enumerate(messages):
        if _has_unknown_fields(message):
            problems.append(f"message #{n} carries unknown fields")
        for group in getattr(message, "attributes", []):
            if group.distinct_tracks < k:
                problems.append(f"message #{n} zone {group.zone_id!r}: {group.distinct_tracks} tracks < k={k}")
            for field in ("expressions", "age_bands", "genders"):
                total = sum(getattr(group, field).values())
                if total > group.distinct_tracks:
                    problems.append(f"message #{n} zone {group.zone_id!r}: {field} counts {total} tracks "
                                    f"> distinct_tracks {group.distinct_tracks}")
    return problems


def _has_unknown_fields(message) -> bool:
    if not hasattr(message, "DiscardUnknownFields"):
        return False
    known = type(message)()
    known.CopyFrom(message)
    known.DiscardUnknownFields()
    return known.ByteSize() != message.ByteSize()


def redis_values(client, pattern: str = "storesight:*") -> dict[str, bytes]:
    """Every value under ``pattern`` (strings, hashes, lists, sets, sorted sets) as bytes, by key."""
    out: dict[str, bytes] = {}
    for key in client.scan_iter(match=pattern, count=500):
        kind = client.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        name = key.decode() if isinstance(key, bytes) else key
        if kind == "string":
            value = client.get(key) or b""
        elif kind == "hash":
            value = b"\n".join(_b(f) + b"=" + _b(v) for f, v in client.hgetall(key).items())
        elif kind == "list":
            value = b"\n".join(_b(v) for v in client.lrange(key, 0, -1))
        elif kind == "set":
            value = b"\n".join(_b(v) for v in client.smembers(key))
        elif kind == "zset":
            value = b"\n".join(_b(v) for v in client.zrange(key, 0, -1))
        else:
            value = b""
        out[name] = _b(value)
    return out


def _b(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def person_in_picture(picture, frames_with_boxes, max_mean_diff: float = 20.0) -> list[str]:
    """Findings where a served picture (a calibration background) shows a person it was made from.

    ``frames_with_boxes``: (frame, [(x0, y0, x1, y1), ...] pixel person boxes) of the frames the
    picture came from (labels of a clip, or where a test drew its figures). A box region of the
    picture close to the frame's own pixels there (mean absolute difference at most
    ``max_mean_diff`` of 255) means the person is in the picture. Both images are BGR arrays; the
    picture is resized to the frame's size first.
    """
    import cv2
    import numpy as np

    findings = []
    for index, (frame, boxes) in enumerate(frames_with_boxes):
        scaled = picture if picture.shape == frame.shape else cv2.resize(
            picture, (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_AREA)
        for x0, y0, x1, y1 in boxes:
            a = scaled[y0:y1, x0:x1].astype(np.int16)
            b = frame[y0:y1, x0:x1].astype(np.int16)
            if a.size and float(np.abs(a - b).mean()) <= max_mean_diff:
                findings.append(f"the picture shows the person of frame {index} at {(x0, y0, x1, y1)}")
    return findings


def person_pixels_in_picture(picture, empty_scene, frames, min_pixels: int = 300, person_delta: int = 60) -> list[str]:
    """Findings where a served picture shows a person of the frames it came from, without boxes.

    For frames labelled as showing someone (a clip's per-frame counts): the person's pixels are
    where the frame differs from the empty scene (more than ``person_delta``, summed over BGR).
    There the picture must look like the empty scene, not like the frame.
    """
    import cv2
    import numpy as np

    findings = []
    empty = empty_scene.astype(np.int16)
    for index, frame in enumerate(frames):
        scaled = picture if picture.shape == frame.shape else cv2.resize(
            picture, (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_AREA)
        shown, person = scaled.astype(np.int16), frame.astype(np.int16)
        mask = np.abs(person - empty).sum(axis=2) > person_delta
        if mask.sum() < min_pixels:
            continue  # too little of the person in view to tell
        to_person = np.abs(shown - person).sum(axis=2)[mask].mean()
        to_empty = np.abs(shown - empty).sum(axis=2)[mask].mean()
        if to_person <= to_empty:
            findings.append(f"the picture shows the person of frame {index} ({int(mask.sum())} pixels)")
    return findings
