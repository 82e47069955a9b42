"""The run guard: what ran, compared with what the suite defines.

Marks, overrides, fixture changes, ``__test__ = False`` or a conftest that deselects
items can each keep a suite test from running as written while the run stays green.
So at the end of every run that collected a contract class, each suite test that class
inherits must have been collected, run and passed, or ended one of the declared ways:

- skipped by the suite itself for an undeclared capability (or another reason the
  suite raises through :func:`suite_skip`), or skipped on a ``live`` test;
- a strict xfail with a reason, put on an override that calls ``super()``.

Authors change how the suite builds what it tests only through the declared
extension points (:data:`EXTENSION_POINTS`: fixtures the suite asks for by name);
each one used is listed in the summary. Overriding a suite fixture or helper instead
is refused like any other override.

Anything else fails the session and is listed in the "memplane conformance" summary
section, which also lists the declared gaps and, per capability, what was tested.
A run narrowed by ``-k``, ``-m``, node ids, ``--deselect`` or ``--lf`` is reported
but not enforced.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, NoReturn

import pytest

from memplane_conformance.contract import ContractBase, silent_overrides, suite_tests


@dataclass
class GuardState:
    modules: list[pytest.Module] = field(default_factory=list)
    items: list[pytest.Item] = field(default_factory=list)
    reports: dict[str, list[pytest.TestReport]] = field(default_factory=lambda: defaultdict(list))
    current: str = ""
    suite_skips: dict[str, str] = field(default_factory=dict)
    capabilities: dict[str, dict[str, bool]] = field(default_factory=lambda: defaultdict(dict))
    problems: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    extensions: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    narrowed: str = ""


_STATE = pytest.StashKey[GuardState]()
#: the states of the sessions running now (pytester nests sessions in one process).
_ACTIVE: list[GuardState] = []


def suite_skip(reason: str) -> NoReturn:
    """Skip the running suite test for a reason the suite declares (the guard accepts it)."""
    if _ACTIVE and _ACTIVE[-1].current:
        _ACTIVE[-1].suite_skips[_ACTIVE[-1].current] = reason
    raise pytest.skip.Exception(reason, _use_item_location=True)


def note_capability(capability: str, declared: bool) -> None:
    """Record that the running test checked ``capability`` (for the summary)."""
    if _ACTIVE and _ACTIVE[-1].current:
        _ACTIVE[-1].capabilities[capability][_ACTIVE[-1].current] = declared


def note_extension(point: str, detail: str) -> None:
    """Record that the running test used the author's extension point ``point``
    (:data:`EXTENSION_POINTS`), so the summary says what the author supplied."""
    if _ACTIVE and _ACTIVE[-1].current:
        _ACTIVE[-1].extensions[f"{point}: {detail}"].add(_ACTIVE[-1].current)


#: the fixtures an author may supply to change how the suite builds what it tests;
#: overriding any suite fixture or helper instead fails the guard.
EXTENSION_POINTS: dict[str, str] = {
    "store_factory(dimension)": "a store_factory that takes a 'dimension' argument is "
                                "told the size each test opens the store with",
    "reopen_store": "builds the second instance persistence tests read back through",
    "memory_factory": "builds the object MemoryContract drives (a client of a remote "
                      "Memory, say) from the parts",
}


def _narrowing(config: pytest.Config) -> str:
    opt = config.option
    used = [flag for flag, on in (
        ("-k", getattr(opt, "keyword", "")), ("-m", getattr(opt, "markexpr", "")),
        ("--deselect", getattr(opt, "deselect", None)), ("--lf", getattr(opt, "lf", False)),
        ("node ids", any("::" in str(a) for a in config.args)),
    ) if on]
    return ", ".join(used)


def pytest_configure(config: pytest.Config) -> None:
    state = GuardState(narrowed=_narrowing(config))
    config.stash[_STATE] = state
    _ACTIVE.append(state)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state in _ACTIVE:
        _ACTIVE.remove(state)


def pytest_collectstart(collector: pytest.Collector) -> None:
    if isinstance(collector, pytest.Module):
        collector.config.stash[_STATE].modules.append(collector)


def pytest_collection_finish(session: pytest.Session) -> None:
    session.config.stash[_STATE].items = list(session.items)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.config.stash[_STATE].current = item.nodeid


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for state in _ACTIVE[-1:]:
        state.reports[report.nodeid].append(report)


def _contract_classes(state: GuardState) -> list[tuple[str, type]]:
    """Author classes (``Test*`` subclasses of a contract) in the collected modules."""
    found = []
    for module in state.modules:
        try:
            namespace = vars(module.obj)
        except Exception:
            continue
        for name, obj in namespace.items():
            if (isinstance(obj, type) and issubclass(obj, ContractBase) and name.startswith("Test")
                    and "_memplane_suite_class" not in vars(obj)):
                found.append((module.nodeid, obj))
    return found


def _own_strict_xfail(item: pytest.Item) -> str | None:
    """The reason of a strict xfail put on the test function itself, or None."""
    marks = [(node, mark) for node, mark in item.iter_markers_with_node("xfail")]
    if not marks:
        return None
    for node, mark in marks:
        reason = mark.kwargs.get("reason", "")
        if (node is not item or mark.kwargs.get("strict") is not True
                or mark.kwargs.get("run", True) is not True or not str(reason).strip()
                or mark.args):
            return ""
    return str(marks[0][1].kwargs["reason"])


def _judge(state: GuardState, item: pytest.Item, overridden: set[str]) -> str | None:
    """Why ``item`` did not run as written (None when it did, or ended a declared way)."""
    name = getattr(item, "originalname", item.name)
    xfail = _own_strict_xfail(item)
    if xfail == "":
        return "carries an xfail mark that is not strict, has no reason, is run=False or " \
               "sits on the class/module"
    if xfail is not None and name in overridden:
        return "strict xfail on an override that is not allowed (see the guard test)"
    reports = state.reports.get(item.nodeid, [])
    if not reports:
        return "did not run"
    if any(r.failed for r in reports):
        return None  # already a failure of the run
    call = next((r for r in reports if r.when == "call"), None)
    skipped = next((r for r in reports if r.skipped), None)
    if hasattr(skipped, "wasxfail") or (call is not None and hasattr(call, "wasxfail")):
        if xfail is None:
            return "xfailed without a strict xfail of its own"
        state.gaps.append(f"{item.nodeid}: {xfail}")
        return None
    if skipped is not None:
        reason = skipped.longrepr[2] if isinstance(skipped.longrepr, tuple) else str(skipped.longrepr)
        if item.nodeid in state.suite_skips or any(True for _ in item.iter_markers("live")):
            return None
        return f"skipped for a reason the suite did not declare ({reason})"
    return None if call is not None and call.passed else "did not pass"


def check(state: GuardState) -> None:
    by_class: dict[type, list[pytest.Item]] = defaultdict(list)
    for item in state.items:
        by_class[getattr(item, "cls", None) or type(None)].append(item)
    for module_id, cls in _contract_classes(state):
        expected = suite_tests(cls)
        items = by_class.get(cls, [])
        overridden = set(silent_overrides(cls))
        seen = {getattr(i, "originalname", i.name) for i in items}
        for name in sorted(set(expected) - seen):
            state.problems.append(f"{module_id}::{cls.__qualname__}::{name}: never collected "
                                  f"(deselected, __test__ = False, or a collection hook)")
        for item in items:
            why = _judge(state, item, overridden)
            if why:
                state.problems.append(f"{item.nodeid}: {why}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash.get(_STATE, None)
    if state is None or not _contract_classes(state):
        return
    check(state)
    if state.narrowed:  # what a narrowed run leaves out is the user's choice
        state.problems.clear()
    if state.problems and session.exitstatus in (pytest.ExitCode.OK,
                                                 pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is None or not _contract_classes(state):
        return
    write = terminalreporter.write_line
    terminalreporter.section("memplane conformance")
    if state.narrowed:
        write(f"run narrowed by {state.narrowed}: the run guard is not enforced")
    for problem in state.problems:
        write(f"NOT RUN AS WRITTEN {problem}")
    for gap in state.gaps:
        write(f"DECLARED GAP (strict xfail) {gap}")
    for nodeid, reason in sorted(state.suite_skips.items()):
        write(f"SKIPPED BY THE SUITE {nodeid}: {reason}")
    for used, tests in sorted(state.extensions.items()):
        write(f"EXTENSION POINT {used} ({len(tests)} test(s))")
    for capability in sorted(state.capabilities):
        runs = state.capabilities[capability]
        tested = sorted({n.split("::")[-1].split("[")[0] for n, d in runs.items() if d})
        if tested:
            write(f"capability {capability}: declared, tested by {', '.join(tested)}")
        else:
            write(f"capability {capability}: not declared ({len(runs)} test(s) checked for it)")
    if state.problems:
        write(f"{len(state.problems)} suite test(s) did not run as written: the run fails")
