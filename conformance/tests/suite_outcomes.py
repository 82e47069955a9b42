"""Reading a child pytest run: which tests failed, passed, skipped (and why)."""

from __future__ import annotations

import re

import pytest

_LINE = re.compile(r"^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\s+(\S+)(?:\s+-\s+(.*))?$")


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, list[str]]]:
    """Run pytest in-process with a full summary; map outcome -> test names
    (``Class::test[param]``, path stripped)."""
    result = pytester.runpytest("-rA", "-p", "no:cacheprovider", *args)
    by_outcome: dict[str, list[str]] = {}
    for line in result.outlines:
        match = _LINE.match(line.strip())
        if match:
            outcome, nodeid, _ = match.groups()
            name = nodeid.split("::", 1)[1] if "::" in nodeid else nodeid
            by_outcome.setdefault(outcome, []).append(name)
    return result, by_outcome


def failed_tests(by_outcome: dict[str, list[str]]) -> set[str]:
    """Failed test function names without class or parameters."""
    names = by_outcome.get("FAILED", []) + by_outcome.get("ERROR", [])
    return {n.split("::")[-1].split("[")[0] for n in names}


def summary(result: pytest.RunResult) -> str:
    """The failure lines of a child run, for assertion messages."""
    lines = [ln for ln in result.outlines if ln.startswith(("FAILED", "ERROR", "E "))]
    return "\n".join(lines[:60]) or "\n".join(result.outlines[-30:])


#: a test module running the LLM contract on ``{cls}`` from ``{module}`` through the
#: scripted endpoint (the subclass-mode run both rejection test files use)
LLM_SUBCLASS_TEMPLATE = """
import pytest
from memplane_conformance import LLMContract
from memplane_conformance.builtins import ScriptedLLMEndpoint
from {module} import {cls}

@pytest.fixture
def scripted_endpoint():
    return ScriptedLLMEndpoint({cls}())

@pytest.fixture
def llm_factory(scripted_endpoint):
    return lambda **overrides: scripted_endpoint.llm

class TestLLM(LLMContract):
    pass
"""
