"""The suite's own tests run the suite in child pytest sessions (pytester, in process).

Modules imported here stay loaded across child sessions (pytester only unloads what
a child imported). That keeps extension modules such as numpy from being imported
twice in one process, which they refuse.
"""

from __future__ import annotations

from pathlib import Path

import numpy  # noqa: F401 - see the module docstring
import pytest

pytest_plugins = ["pytester"]

HERE = Path(__file__).parent


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester whose child sessions can import ``reference_providers``."""
    pytester.syspathinsert(HERE)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    return pytester
