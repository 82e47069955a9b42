"""What every contract base class shares: the no-silent-override guard and
capability-driven skips.

A provider author may not quietly weaken the suite. Overriding (or shadowing with a
non-test) any suite test is allowed only when the replacement is marked
``@pytest.mark.xfail(strict=True, reason="...")``: the gap is then visible in every
run, and the day the provider starts to pass, the strict xfail fails and the marker
has to go.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

GUARD_TEST = "test_suite_tests_are_not_silently_overridden"


def _is_strict_xfail(func: Any) -> bool:
    for mark in getattr(func, "pytestmark", []):
        if mark.name != "xfail":
            continue
        reason = mark.kwargs.get("reason") or (mark.args[1] if len(mark.args) > 1 else "")
        if mark.kwargs.get("strict") is True and isinstance(reason, str) and reason.strip():
            return True
    return False


def suite_tests(cls: type) -> dict[str, Any]:
    """The suite's own test functions reachable from ``cls``, by name."""
    found: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        if not getattr(klass, "__dict__", {}).get("_memplane_suite_class", False):
            continue
        for name, value in vars(klass).items():
            if name.startswith("test") and callable(value):
                found[name] = value
    return found


def silent_overrides(cls: type) -> list[str]:
    """Suite tests that ``cls`` (an author's subclass) replaced without a strict xfail."""
    problems = []
    for name, original in sorted(suite_tests(cls).items()):
        current = getattr(cls, name, None)
        if current is original:
            continue
        if callable(current) and _is_strict_xfail(current):
            continue
        problems.append(name)
    return problems


def skip_unless_capable(provider: Any, capability: str) -> None:
    """Skip the running test, naming the capability, unless the provider declares it."""
    if capability not in getattr(provider, "capabilities", frozenset()):
        kind = getattr(provider, "kind", "provider")
        name = getattr(provider, "name", "") or type(provider).__name__
        pytest.skip(f"{kind} provider {name!r} does not declare the {capability!r} capability")


class ContractBase:
    """Base of every ``*Contract`` class. Suite classes set ``_memplane_suite_class``."""

    _memplane_suite_class: ClassVar[bool] = True

    def test_suite_tests_are_not_silently_overridden(self) -> None:
        """Every suite test this class inherits runs as written, or is visibly marked.

        Troubleshooting: you overrode or shadowed a suite test. Remove the override, or
        mark it ``@pytest.mark.xfail(strict=True, reason="why this provider cannot pass")``
        and call ``super()`` from it so the gap stays visible.
        """
        problems = silent_overrides(type(self))
        assert not problems, (
            f"{type(self).__name__} overrides suite tests without "
            f"@pytest.mark.xfail(strict=True, reason=...): {', '.join(problems)}"
        )
