"""memplane benchmarks: `python -m tests.bench --help` (or `tox -e bench -- --help`).

Modules without a memplane import (``locomo_data``, ``metrics``, ``timing``,
``vectors``) are shared with ``mem0_side``, which runs inside the separate mem0
bench environment so both systems follow the same protocol code.
"""
