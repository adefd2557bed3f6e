"""The report folder of ``storesight analyze``: CSV tables, PNG plots, the heatmap and report.html.

Files: ``windows.csv`` (every closed window record, as the aggregate service publishes them),
``visits.csv`` (completed visits), ``timeline.csv`` (live per-zone view after each processed
frame), ``heatmap.png``, ``plots/*.png`` and ``report.html`` linking them; Parquet copies of the
tables when pyarrow happens to be installed. Empty cells are unknowns, never zeros.
No pixels of people: the heatmap background is the per-pixel median of the video (people-free)
or plain grey.
"""

from __future__ import annotations

import csv
import dataclasses
import html
from collections import defaultdict
from pathlib import Path

from services.aggregate.convert import iso
from services.aggregate.records import WindowStats

WINDOW_FIELDS = [f.name for f in dataclasses.fields(WindowStats)]


def _cell(value):
    return "" if value is None else value


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows([[_cell(v) for v in row] for row in rows])


def tables(analysis) -> dict[str, tuple[list[str], list[list]]]:
    """name -> (header, rows) of the report's tables."""
    windows = []
    for w in analysis.windows:
        row = dataclasses.asdict(w)
        row["window_start"], row["window_end"] = iso(w.window_start), iso(w.window_end)
        windows.append([row[name] for name in WINDOW_FIELDS])
    visits = [[v.camera_id, v.zone_id, v.track_id, iso(v.start_s), iso(v.end_s), round(v.dwell_s, 3), v.served]
              for v in analysis.visits]
    zones = sorted({z for p in analysis.timeline for z in p.zones})
    timeline = [[round(p.t, 3), iso(p.capture_s)] + [v for z in zones for v in p.zones.get(z, (None,) * 3)]
                for p in analysis.timeline]
    timeline_header = ["t_s", "capture_time"] + [f"{z}.{m}" for z in zones
                                                 for m in ("occupancy", "queue_length", "wait_estimate_s")]
    return {
        "windows": (WINDOW_FIELDS, windows),
        "visits": (["camera_id", "zone_id", "track_id", "start", "end", "dwell_s", "served"], visits),
        "timeline": (timeline_header, timeline),
    }


def _write_parquet(out: Path, name: str, header: list[str], rows: list[list]) -> Path | None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return None
    table = pa.table({h: [r[i] for r in rows] for i, h in enumerate(header)})
    path = out / f"{name}.parquet"
    pq.write_table(table, path)
    return path


# ---------------------------------------------------------------- plots


def _figure(title: str, ylabel: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.2), dpi=100)
    ax.set_title(title, loc="left", fontsize=11)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return fig, ax


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_occupancy(analysis, path: Path) -> Path:
    fig, ax = _figure("Occupancy per zone (persons, per processed frame)", "persons")
    zones = sorted({z for p in analysis.timeline for z in p.zones})
    for zone in zones:
        # None (unknown) breaks the line instead of drawing a zero.
        values = [p.zones.get(zone, (None,))[0] for p in analysis.timeline]
        ax.step([p.t for p in analysis.timeline], [float("nan") if v is None else v for v in values],
                where="post", label=zone)
    ax.set_xlabel("seconds of video")
    if zones:
        ax.legend(loc="upper right", fontsize=8)
    return _save(fig, path)


def per_minute(analysis) -> dict[str, dict[int, list[int]]]:
    """zone/line -> minute index (from the start of the video) -> [entries, exits], from closed windows."""
    counts: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for w in analysis.windows:
        if w.entries is None and w.exits is None:
            continue
        minute = int((w.window_start - analysis.start_s) // 60)
        name = f"visitors ({w.zone_id})" if w.zone_kind == "camera" else w.zone_id
        counts[name][minute][0] += (w.unique_tracks if w.zone_kind == "camera" else w.entries) or 0
        counts[name][minute][1] += w.exits or 0
    return counts


def plot_flow(analysis, path: Path) -> Path:
    import numpy as np

    fig, ax = _figure("Entries (+) and exits (-) per minute, from closed windows", "count")
    counts = per_minute(analysis)
    names = sorted(counts)
    all_minutes = sorted({m for name in names for m in counts[name]})
    width = 0.8 / max(len(names), 1)
    for k, name in enumerate(names):
        x = np.asarray(all_minutes) + (k - (len(names) - 1) / 2) * width
        values = [counts[name].get(m, [0, 0]) for m in all_minutes]
        bars = ax.bar(x, [v[0] for v in values], width, label=name)
        ax.bar(x, [-v[1] for v in values], width, color=bars.patches[0].get_facecolor(), alpha=0.5)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(all_minutes, [f"{m}-{m + 1} min" for m in all_minutes])
    ax.set_xlabel("minute of video")
    if names:
        ax.legend(loc="upper right", fontsize=8)
    return _save(fig, path)


def plot_dwell(analysis, path: Path) -> Path:
    fig, ax = _figure("Dwell time per visit", "visits")
    by_zone: dict[str, list[float]] = defaultdict(list)
    for v in analysis.visits:
        by_zone[v.zone_id].append(v.dwell_s)
    if by_zone:
        ax.hist(list(by_zone.values()), bins=12, label=list(by_zone), alpha=0.8)
        ax.legend(loc="upper right", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no completed visit", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("seconds")
    return _save(fig, path)


def plot_queues(analysis, path: Path) -> Path:
    fig, ax = _figure("Queue length (persons) and wait estimate (s)", "persons")
    queues = sorted({z for p in analysis.timeline for z, v in p.zones.items() if v[1] is not None})
    if not queues:
        ax.text(0.5, 0.5, "no queue zone in this camera's config", ha="center", va="center", transform=ax.transAxes)
        return _save(fig, path)
    wait_ax = ax.twinx()
    wait_ax.set_ylabel("wait (s)")
    for zone in queues:
        t = [p.t for p in analysis.timeline]
        length = [p.zones.get(zone, (None, None, None))[1] for p in analysis.timeline]
        ax.step(t, [float("nan") if v is None else v for v in length], where="post", label=f"{zone} length")
        windows = [w for w in analysis.windows if w.zone_id == zone and w.wait_estimate_s is not None]
        wait_ax.plot([(w.window_end - analysis.start_s) for w in windows], [w.wait_estimate_s for w in windows],
                     "o--", label=f"{zone} wait (Little's law, per window)")
    ax.set_xlabel("seconds of video")
    ax.legend(loc="upper left", fontsize=8)
    wait_ax.legend(loc="upper right", fontsize=8)
    return _save(fig, path)


def write_heatmap(analysis, config, path: Path, background: str) -> Path | None:
    import cv2
    import numpy as np

    from services.aggregate.heatmap import file_background, render

    if not analysis.heatmaps:
        return None
    counts = sum(h.counts for h in analysis.heatmaps)
    if background == "median":
        base = file_background(analysis.video)
    else:
        capture = cv2.VideoCapture(analysis.video)
        height, width = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)), int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        capture.release()
        base = np.full((height or 432, width or 768, 3), 200, dtype=np.uint8)
    image = render(base, counts)
    _, camera = config.camera(analysis.camera_id)
    h, w = image.shape[:2]
    for zone in camera.zones:  # outline the zones so the picture can be read
        pts = np.asarray([(x * w, y * h) for x, y in zone.polygon], dtype=np.int32)
        cv2.polylines(image, [pts], True, (255, 255, 255), 2)
        cv2.putText(image, zone.id, tuple(int(v) for v in pts[0] + (6, 22)), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                    (255, 255, 255), 2)
    for line in camera.lines:
        cv2.line(image, (int(line.a[0] * w), int(line.a[1] * h)), (int(line.b[0] * w), int(line.b[1] * h)),
                 (0, 0, 255), 2)
    cv2.imwrite(str(path), image)
    return path


# ---------------------------------------------------------------- the page


def summary_rows(analysis) -> list[list[str]]:
    """Per zone/line/camera view over the whole video: totals and dwell."""
    rows = []
    by_zone: dict[str, list] = defaultdict(list)
    for w in analysis.windows:
        by_zone[w.zone_id].append(w)
    for zone_id in sorted(by_zone, key=lambda z: (z.count(":"), z)):
        known = [w for w in by_zone[zone_id] if w.status != "UNKNOWN"]
        frames_avg = [w.occupancy_avg for w in known if w.occupancy_avg is not None]
        dwells = [v.dwell_s for v in analysis.visits if v.zone_id == zone_id]
        kind = by_zone[zone_id][0].zone_kind
        entries = sum((w.unique_tracks if kind == "camera" else w.entries) or 0 for w in known)
        rows.append([zone_id, kind, f"{len(known)}/{len(by_zone[zone_id])}",
                     f"{sum(frames_avg) / len(frames_avg):.2f}" if frames_avg else "unknown",
                     str(max((w.occupancy_max or 0 for w in known), default=0)) if frames_avg else "unknown",
                     str(entries), str(sum(w.exits or 0 for w in known)),
                     f"{sorted(dwells)[len(dwells) // 2]:.1f} s" if dwells else "-"])
    return rows


def write_report(analysis, config, out: Path, background: str = "median") -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    plots = out / "plots"
    plots.mkdir(exist_ok=True)
    files: list[Path] = []
    for name, (header, rows) in tables(analysis).items():
        write_csv(out / f"{name}.csv", header, rows)
        files.append(out / f"{name}.csv")
        parquet = _write_parquet(out, name, header, rows)
        if parquet:
            files.append(parquet)
    figures = [("Occupancy", plot_occupancy(analysis, plots / "occupancy.png")),
               ("Entries and exits", plot_flow(analysis, plots / "entries_exits.png")),
               ("Dwell", plot_dwell(analysis, plots / "dwell.png")),
               ("Queues", plot_queues(analysis, plots / "queues.png"))]
    heatmap = write_heatmap(analysis, config, out / "heatmap.png", background)
    files += [p for _, p in figures] + ([heatmap] if heatmap else [])
    (out / "report.html").write_text(_page(analysis, figures, heatmap, background, out), encoding="utf-8")
    files.append(out / "report.html")
    return files


def _page(analysis, figures, heatmap, background: str, out: Path) -> str:
    e = html.escape
    head = ["zone", "kind", "known windows", "avg occupancy", "max", "entries / visitors", "exits", "median dwell"]
    table = "".join(f"<th>{e(h)}</th>" for h in head)
    table += "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in summary_rows(analysis))
    lines = ", ".join(f"{e(name)}: {n_in} in / {n_out} out" for name, (n_in, n_out) in
                      sorted(analysis.line_totals.items())) or "no line configured"
    seconds = analysis.timeline[-1].t if analysis.timeline else 0.0
    ms = analysis.inference_ms / analysis.frames if analysis.frames else 0.0
    images = "".join(f'<figure><img src="{e(str(p.relative_to(out)))}" alt="{e(title)}"></figure>'
                     for title, p in figures)
    heat = (f'<figure><img src="heatmap.png" alt="heatmap"><figcaption>Where people stood (foot points), '
            f'over {"the people-free median of the video" if background == "median" else "a grey background"}'
            "</figcaption></figure>") if heatmap else "<p>No known window: no heatmap.</p>"
    css = ("body{font-family:system-ui,sans-serif;margin:24px;max-width:860px;color:#222}"
           "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;"
           "text-align:right}td:first-child,th:first-child{text-align:left}figure{margin:12px 0}"
           "img{max-width:100%}h1{font-size:20px}.meta{color:#555;font-size:13px}")
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>StoreSight report: {e(Path(analysis.video).name)}</title>
<style>{css}</style></head><body>
<h1>StoreSight report: {e(Path(analysis.video).name)}</h1>
<p class="meta">Camera {e(analysis.camera_id)} of store {e(analysis.store_id)} · {seconds:.1f} s of video ·
{analysis.frames} frames analysed · {analysis.persons} person detections · detector {e(analysis.detector_model)}
({ms:.0f} ms/frame) · lines: {lines}</p>
<h2>Summary</h2><table>{table}</table>
<p class="meta">Windows are the aggregate service's event-time windows; "unknown" means no frame covered it.
Tables: windows.csv, visits.csv, timeline.csv.</p>
<h2>Plots</h2>{images}
<h2>Heatmap</h2>{heat}
</body></html>
"""
