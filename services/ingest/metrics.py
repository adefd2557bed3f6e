"""Ingest's Prometheus metrics (names agreed across services; labels bounded by config)."""

from prometheus_client import Counter, Gauge, Histogram

FRAMES_CAPTURED = Counter("storesight_ingest_frames_captured_total",
                          "Frames read from the camera, before sampling", ["camera"])
FRAMES_PUBLISHED = Counter("storesight_ingest_frames_published_total",
                           "Frames acknowledged by the frames topic", ["camera"])
FRAMES_SKIPPED_MOTION = Counter("storesight_ingest_frames_skipped_motion_total",
                                "Sampled frames withheld by the motion gate", ["camera"])
FRAMES_DROPPED = Counter("storesight_ingest_frames_dropped_total",
                         "Frames due but lost: processing too slow, or publish failed", ["camera"])
RECONNECTS = Counter("storesight_ingest_reconnects_total", "Reconnect attempts after a failure", ["camera"])
SOURCE_ERRORS = Counter("storesight_ingest_source_errors_total",
                        "Source failures (cannot connect, stream ended, undecodable file or image)",
                        ["camera"])
LAST_FRAME_AGE = Gauge("storesight_ingest_last_frame_age_seconds",
                       "Seconds since the camera last delivered a frame (NaN: none yet)", ["camera"])
CAMERA_UP = Gauge("storesight_ingest_camera_up", "1 while the camera delivers frames, else 0", ["camera"])
ENCODE_SECONDS = Histogram("storesight_ingest_encode_seconds", "Decode (a camera JPEG that must be), resize + JPEG encode time per frame",
                           buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25))
# CPU of each step a frame goes through, measured as the CPU time of the thread doing it
# (time.thread_time): decode = every frame read from the source, sampled or not (FFmpeg's own
# decoder threads, if any, are not in it); publish = protobuf + handing the frame to the producer
# (its network I/O runs in the producer's thread). bench.pipeline divides these by the frames.
STAGES = ("decode", "resize", "gate", "encode", "publish")
STAGE_CPU = Counter("storesight_ingest_cpu_seconds_total", "Thread CPU seconds spent per stage", ["stage"])
for _stage in STAGES:
    STAGE_CPU.labels(_stage)
