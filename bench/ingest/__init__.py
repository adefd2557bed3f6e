"""``python -m bench.ingest``: what one camera costs in ingest."""
