"""Cross-package tests; `python -m tests.bench` runs the benchmarks."""
