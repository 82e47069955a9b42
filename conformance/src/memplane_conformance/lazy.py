"""Check that a provider imports its SDK lazily: loading it through its entry point
and constructing it must not import the SDK (``memplane providers`` and start-up stay
fast, and a missing SDK only matters once the provider is used).

    from memplane_conformance.lazy import sdk_modules_after_loading

    def test_loading_leaves_the_sdk_unimported():
        loaded = sdk_modules_after_loading("myprovider", {"llms": {"api_key": "k"}}, ["mysdk"])
        assert loaded == []
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Collection, Mapping
from typing import Any

_PROBE = """
import json, sys
from memplane.plugins.registry import load_provider_class
name, configs, packages = json.loads(sys.argv[1])
for kind, config in configs.items():
    load_provider_class(kind, name)(config)
print(json.dumps(sorted(m for m in sys.modules
                        if any(m == p or m.startswith(p + ".") for p in packages))))
"""


def sdk_modules_after_loading(
    name: str, configs: Mapping[str, dict[str, Any]], sdk_packages: Collection[str]
) -> list[str]:
    """In a fresh interpreter, load provider ``name`` of each kind in ``configs``
    (``{"llms": config, ...}``) through its entry point and construct it with that
    config; return the modules of ``sdk_packages`` that got imported."""
    argument = json.dumps([name, dict(configs), sorted(sdk_packages)])
    done = subprocess.run([sys.executable, "-c", _PROBE, argument], capture_output=True,
                          text=True, check=False, timeout=120)
    if done.returncode != 0:
        raise AssertionError(f"loading provider {name!r} failed:\n{done.stderr}")
    loaded: list[str] = json.loads(done.stdout)
    return loaded
