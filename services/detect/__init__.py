"""Detect service: batched person detection and per-camera tracking.

Pure core: ``letterbox`` (image -> model input), ``postprocess`` (YOLO output -> boxes, NMS),
``tracker`` (per-camera ByteTrack-style ids), ``batching`` (when to run a batch, which frames
are too old). Model runners live in ``backends``; ``pipeline`` joins them for files
(``detect_video``); ``service`` is the Kafka shell.
"""
