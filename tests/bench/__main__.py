"""Entry point: `python -m tests.bench --help`."""

import os

# One thread for torch and BLAS, for memplane and mem0 alike (the mem0 side and the
# scaling workers inherit this). On a shared 2-core machine, two OpenMP threads that
# spin-wait for each other made one MiniLM embedding take 0.5-2 s instead of ~50 ms.
for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

from tests.bench.cli import main  # noqa: E402

raise SystemExit(main())
