"""Ingest: cameras -> the frames topic, with sampling, motion gating, reconnect and honest health.

Pure cores (no I/O): ``sampling``, ``motion``, ``backoff``, ``sharding``, ``stills``.
Shells: ``sources`` (OpenCV/filesystem), ``camera`` (one camera's loop), ``service`` (Kafka + HTTP).
"""
