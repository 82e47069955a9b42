"""What every contract base class shares: the no-silent-override guard and
capability-driven skips.

A provider author may not quietly weaken the suite. Overriding (or shadowing with a
non-test) any suite test is allowed only when the replacement is marked
``@pytest.mark.xfail(strict=True, reason="...")``: the gap is then visible in every
run, and the day the provider starts to pass, the strict xfail fails and the marker
has to go.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

GUARD_TEST = "test_suite_tests_are_not_silently_overridden"


def _is_strict_xfail(func: Any) -> bool:
    for mark in getattr(func, "pytestmark", []):
        if mark.name != "xfail":
            continue
        reason = mark.kwargs.get("reason") or (mark.args[1] if len(mark.args) > 1 else "")
        if (mark.kwargs.get("strict") is True and isinstance(reason, str) and reason.strip()
                and mark.kwargs.get("run", True) is True):
            return True
    return False


def suite_tests(cls: type) -> dict[str, Any]:
    """The suite's own test functions reachable from ``cls``, by name."""
    return {n: v for n, v in suite_members(cls).items() if n.startswith("test") and callable(v)}


def suite_members(cls: type) -> dict[str, Any]:
    """Everything the suite classes of ``cls`` define: tests, fixtures and helpers."""
    found: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if not getattr(klass, "__dict__", {}).get("_memplane_suite_class", False):
            continue
        for name, value in vars(klass).items():
            if not name.startswith("__") and name != "_memplane_suite_class":
                found[name] = value
    return found


def _calls_super(func: Any, name: str) -> bool:
    """Whether an override's body calls ``super().<name>`` (so the suite's checks run
    and a passing case still fails the strict xfail)."""
    code = getattr(getattr(func, "__wrapped__", func), "__code__", None)
    return code is not None and "super" in code.co_names and name in code.co_names


def silent_overrides(cls: type) -> list[str]:
    """Suite tests, fixtures and helpers that ``cls`` (an author's subclass) replaced,
    except tests replaced by a strict xfail override that calls ``super()``."""
    problems = []
    for name, original in sorted(suite_members(cls).items()):
        # static lookup: fixture objects are descriptors, getattr would rebind them
        current = inspect.getattr_static(cls, name, None)
        if current is original:
            continue
        if (name.startswith("test") and callable(current) and _is_strict_xfail(current)
                and _calls_super(current, name)):
            continue
        problems.append(name)
    return problems


def skip_unless_capable(provider: Any, capability: str) -> None:
    """Skip the running test, naming the capability, unless the provider declares it."""
    from memplane_conformance.guard import note_capability, suite_skip

    declared = capability in getattr(provider, "capabilities", frozenset())
    note_capability(capability, declared)
    if not declared:
        kind = getattr(provider, "kind", "provider")
        name = getattr(provider, "name", "") or type(provider).__name__
        suite_skip(f"{kind} provider {name!r} does not declare the {capability!r} capability")


def check_async_native(provider: Any, base: type, methods: tuple[str, ...]) -> None:
    """With ``async_native``, the async methods are the provider's own, not the base
    class's thread wrappers; without it, nothing to check (the test still runs them)."""
    from memplane_conformance.guard import note_capability

    declared = "async_native" in getattr(provider, "capabilities", frozenset())
    note_capability("async_native", declared)
    if declared:
        inherited = [m for m in methods if getattr(type(provider), m) is getattr(base, m)]
        assert not inherited, (
            f"declares async_native but {', '.join(inherited)} run the sync call in a thread")


class ContractBase:
    """Base of every ``*Contract`` class. Suite classes set ``_memplane_suite_class``."""

    _memplane_suite_class: ClassVar[bool] = True

    def test_suite_tests_are_not_silently_overridden(self) -> None:
        """Every suite test this class inherits runs as written, or is visibly marked.

        Troubleshooting: you overrode or shadowed a suite test, fixture or helper.
        Remove the override; for a test this provider cannot pass, mark the override
        ``@pytest.mark.xfail(strict=True, reason="why")`` and call ``super()`` from it
        so the gap stays visible and the day it passes, the run says so.
        """
        problems = silent_overrides(type(self))
        assert not problems, (
            f"{type(self).__name__} overrides suite members without a strict xfail "
            f"override calling super() (@pytest.mark.xfail(strict=True, reason=...)): "
            f"{', '.join(problems)}"
        )
