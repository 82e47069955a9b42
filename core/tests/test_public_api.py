"""The small public surface: four names from ``memplane``, loaded on first use."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_import_memplane_loads_no_pipeline_or_plugin_machinery() -> None:
    code = ("import sys, memplane; "
            "heavy = [m for m in ('memplane.memory', 'memplane.async_memory', 'pluggy', "
            "'stevedore', 'numpy') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_four_entry_names_resolve_lazily() -> None:
    import memplane
    from memplane.async_memory import AsyncMemory
    from memplane.config import MemoryConfig
    from memplane.memory import Memory
    from memplane.plugins.hooks import hookimpl

    assert (memplane.Memory, memplane.AsyncMemory, memplane.MemoryConfig, memplane.hookimpl) == (
        Memory, AsyncMemory, MemoryConfig, hookimpl)
    assert {"Memory", "AsyncMemory", "MemoryConfig", "hookimpl"} <= set(dir(memplane))
    with pytest.raises(AttributeError, match="no attribute 'Memroy'"):
        _ = memplane.Memroy  # type: ignore[attr-defined]
