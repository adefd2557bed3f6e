"""Archive benchmark: insert rate and the weekday x hour query (python -m bench.archive)."""
