"""Benchmarks: each prints its numbers and compares in the same run; see bench/RESULTS.md."""
