"""Entry point: `python -m tests.bench --help`."""

from tests.bench.cli import main

raise SystemExit(main())
