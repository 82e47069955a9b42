"""What every contract base class shares: the no-silent-override guard and
capability-driven skips.

A provider author may not quietly weaken the suite. Overriding (or shadowing with a
non-test) any suite test is allowed only when the replacement is marked
``@pytest.mark.xfail(strict=True, reason="...")``: the gap is then visible in every
run, and the day the provider starts to pass, the strict xfail fails and the marker
has to go.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
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


@contextlib.contextmanager
def async_native_probe(provider: Any, base: type, pairs: dict[str, str]) -> Iterator[None]:
    """Check ``async_native`` around the async calls of one test.

    ``pairs`` maps each async method the provider implements (``agenerate``, or a store
    hook such as ``_aapply``) to its sync twin (``generate``, ``_apply``). With the
    capability declared, every async method must be the provider's own (not the base
    class's thread wrapper), and none of the sync twins may run while the block runs:
    an override that hands the sync call to a thread, or calls it in the coroutine, is
    not native. Without the capability, nothing is checked (the test still runs).
    """
    from memplane_conformance.guard import note_capability

    declared = "async_native" in getattr(provider, "capabilities", frozenset())
    note_capability("async_native", declared)
    if not declared:
        yield
        return
    inherited = [m for m in pairs if getattr(type(provider), m) is getattr(base, m)]
    assert not inherited, (
        f"declares async_native but {', '.join(inherited)} run the sync call in a thread "
        f"(the base class's default)")
    ran: list[str] = []
    twins = sorted(set(pairs.values()))
    for name in twins:  # instance attributes shadow the class's methods for this block
        setattr(provider, name, _tracing(getattr(provider, name), name, ran))
    try:
        yield
    finally:
        for name in twins:
            with contextlib.suppress(AttributeError):
                delattr(provider, name)
    assert not ran, (
        f"declares async_native but the async path called the sync {', '.join(sorted(set(ran)))} "
        f"(in a thread or inline): implement the async methods with an async client")


def _tracing(method: Callable[..., Any], name: str, ran: list[str]) -> Callable[..., Any]:
    def traced(*args: Any, **kwargs: Any) -> Any:
        ran.append(name)
        return method(*args, **kwargs)

    return traced


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
