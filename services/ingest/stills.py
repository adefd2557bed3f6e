"""Image-folder cameras (e.g. the Raspberry Pi "motion" package syncing stills in batches):
which files are new, and in what order, by capture time.

The capture time comes from a timestamp in the file name when there is one (motion writes
``20261121093015-01.jpg``; also ``2026-11-21_09-30-15.jpg``, ``2026-11-21T09:30:15.250Z.jpg``),
because a batch sync gives all files the same mtime; otherwise from the file's mtime.
Names carry local camera time without a zone: they are read in the given time zone.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")

_STAMP = re.compile(
    r"(?P<y>20\d\d)-?(?P<mo>[01]\d)-?(?P<d>[0-3]\d)[T_ -]?"
    r"(?P<h>[0-2]\d)[-:]?(?P<mi>[0-5]\d)[-:]?(?P<s>[0-5]\d)(?:[.,](?P<frac>\d{1,6}))?(?P<z>Z)?"
)


@dataclass(frozen=True, order=True)
class Still:
    """A file in the folder, ordered by (capture time, name)."""

    capture_s: float
    name: str


def capture_time_from_name(name: str, tz: dt.tzinfo = dt.UTC) -> float | None:
    """Seconds since the epoch from a timestamp in the file name, or None.

    >>> capture_time_from_name("20261121093015-01.jpg")
    1795253415.0
    >>> capture_time_from_name("cam_2026-11-21T09:30:15.250Z.jpg")
    1795253415.25
    >>> capture_time_from_name("snapshot.jpg") is None
    True
    """
    match = _STAMP.search(name)
    if not match:
        return None
    try:
        when = dt.datetime(int(match["y"]), int(match["mo"]), int(match["d"]),
                           int(match["h"]), int(match["mi"]), int(match["s"]),
                           int((match["frac"] or "0").ljust(6, "0")),
                           tzinfo=dt.UTC if match["z"] else tz)
    except ValueError:
        return None
    return when.timestamp()


def is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES) and not name.startswith(".")


def new_stills(listing: dict[str, float], after: Still | None, tz: dt.tzinfo = dt.UTC) -> list[Still]:
    """Images in ``listing`` (name -> mtime) that come after ``after``, oldest first.

    >>> new_stills({"b.jpg": 20.0, "a.jpg": 10.0, "notes.txt": 5.0}, after=Still(10.0, "a.jpg"))
    [Still(capture_s=20.0, name='b.jpg')]
    """
    stills = []
    for name, mtime in listing.items():
        if not is_image(name):
            continue
        stamp = capture_time_from_name(name, tz)
        still = Still(stamp if stamp is not None else mtime, name)
        if after is None or still > after:
            stills.append(still)
    return sorted(stills)
