from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import support
from tests.support import Daemon, running_daemon

TESTS = Path(__file__).resolve().parent

# The suite caches bytecode even in a shell with PYTHONDONTWRITEBYTECODE: without it every worker redoes
# pytest's assertion rewriting of the whole suite, and every daemon and `specflowctl` a test starts compiles
# specflowd again (about three times the CPU of a daemon start). Such a shell asked for no bytecode in the tree,
# so the cache goes to a prefix outside it (PYTHONPYCACHEPREFIX, under the user's cache directory). The workers
# and every child process inherit this process's environment.
if sys.dont_write_bytecode or os.environ.get("PYTHONDONTWRITEBYTECODE"):
    _prefix = os.environ.get("PYTHONPYCACHEPREFIX") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "specflowd-tests" / "pycache"
    )
    sys.dont_write_bytecode = False
    sys.pycache_prefix = _prefix
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = _prefix

# The fake `claude` and `specflow` are `#!/usr/bin/env python3` scripts: they run under the interpreter being
# tested, as in an activated virtualenv, not whatever `python3` comes first on PATH (a pyenv shim costs about
# 0.3 s of a shell and pyenv per start, and the e2e tier starts the fakes about 500 times).
_interpreter_bin = str(Path(sys.executable).parent)
if os.environ.get("PATH", "").split(os.pathsep)[0] != _interpreter_bin:
    os.environ["PATH"] = os.pathsep.join([_interpreter_bin, *filter(None, [os.environ.get("PATH")])])

# Tests that start the real daemon or real agent processes (the fake `claude`, the simulated agent, the real
# Claude Code CLI) are the `e2e` tier: `pytest -m "not e2e"` is the fast inner loop (CONTRIBUTING.md).
# Every `*_e2e.py` file belongs to it, and these; a test elsewhere that starts the daemon fails (support.py).
E2E_PATHS = (
    "editors/",
    "runs/",
    "sim/",
    "crash/",
    "e2e/test_real_cli.py",
    "e2e/test_real_cli_lock.py",
    "e2e/test_real_cli_loop.py",
    "e2e/test_real_cli_orchestration.py",
    "e2e/test_real_cli_sandbox.py",
    "foundation/test_cli.py",
    "foundation/test_lifecycle.py",
    "runner/test_crash_windows.py",
    "runner/test_fake_claude.py",
    "runner/test_reconcile.py",
    "runner/test_runs.py",
)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """The whole suite runs on pytest-xdist workers (`-n` in pyproject's addopts); a run that names tests
    (a path, a node id, `-k`) runs serially in this process instead, with no workers to start, unless its own
    command line says `-n` (CONTRIBUTING.md). So does a run with --pdb, which needs the tests in this process."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    explicit_n = any(a.startswith(("-n", "--numprocesses")) for a in config.invocation_params.args)
    named = config.args_source == pytest.Config.ArgsSource.ARGS or bool(config.option.keyword or config.option.usepdb)
    if named and not explicit_n:
        config.option.numprocesses = 0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        relative = item.path.resolve().relative_to(TESTS).as_posix()
        if relative.endswith("_e2e.py") or relative.startswith(E2E_PATHS):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def _only_e2e_tests_start_the_daemon(request: pytest.FixtureRequest) -> Iterator[None]:
    support.daemon_allowed = request.node.get_closest_marker("e2e") is not None
    yield
    support.daemon_allowed = True


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    with running_daemon(tmp_path) as d:
        yield d


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
