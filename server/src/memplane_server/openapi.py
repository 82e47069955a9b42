"""Print the published OpenAPI schema (docs/openapi.json is this output):

    python -m memplane_server.openapi > docs/openapi.json
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any


def schema() -> dict[str, Any]:
    from memplane_server.app import create_app
    from memplane_server.settings import ServerSettings

    with tempfile.TemporaryDirectory() as tmp:  # the schema needs no real key database
        app = create_app(ServerSettings(keys_db=Path(tmp) / "schema.db"))
        return app.openapi()


def render() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
