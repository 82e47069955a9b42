"""``python -m memplane_server.mcp``: the stdio server (same as ``memplane-mcp``)."""

import sys

from memplane_server.mcp.cli import main

sys.exit(main())
