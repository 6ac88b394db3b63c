"""Every package module that declares ``__all__`` exports exactly names that exist (httpx style)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import specflowctl
import specflowd


def _modules() -> list[str]:
    return [m.name for m in pkgutil.walk_packages(specflowd.__path__, "specflowd.") if not m.name.endswith("__main__")]


def test_all_names_exist() -> None:
    checked = 0
    for name in _modules():
        module = importlib.import_module(name)
        exported = getattr(module, "__all__", None)
        if exported is None:
            continue
        checked += 1
        missing = [n for n in exported if not hasattr(module, n)]
        assert missing == [], f"{name}.__all__ names missing attributes: {missing}"
    assert checked >= 8


def test_error_tree_codes_are_distinct_application_codes() -> None:
    from specflowd import errors

    classes = [getattr(errors, n) for n in errors.__all__]
    codes = [c.code for c in classes]
    kinds = [c.kind for c in classes]
    assert len(set(codes)) == len(codes) and len(set(kinds)) == len(kinds)
    # application codes, except bad params a handler finds: the standard -32602 with the schema check's kind
    assert all(-32099 <= c.code <= -32000 or (c.code, c.kind) == (-32602, "invalid_params") for c in classes)
    assert all(issubclass(c, errors.SpecflowError) for c in classes)


def _loaded_by(modules: str, roots: tuple[str, ...]) -> list[str]:
    """The modules under ``roots`` that importing ``modules`` (comma-separated) loads, in a fresh interpreter."""
    code = f"import sys; import {modules}; print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in {roots!r})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_client_does_not_import_heavy_modules() -> None:
    heavy = ("typer", "pydantic", "anyio", "anthropic", "specflowctl")
    loaded = _loaded_by("specflowctl.cli, specflowctl.fast, specflowctl.connection", heavy)
    assert "specflowctl.fast" in loaded  # the probe ran
    assert [m for m in loaded if not m.startswith("specflowctl")] == []


def test_importing_the_domain_loads_neither_the_runner_nor_io_libraries() -> None:
    roots = ("specflowd", "anyio", "psutil", "typer", "anthropic")
    loaded = _loaded_by("specflowd.domain.decide, specflowd.domain.transitions, specflowd.domain.prompts", roots)
    assert "specflowd.domain.decide" in loaded  # the probe ran
    own = ("specflowd.domain", "specflowd.vocabulary", "specflowd.orchestration_vocabulary", "specflowd.errors")
    foreign = [m for m in loaded if not m.startswith(own)]
    assert foreign == ["specflowd"]


def test_package_inits_import_nothing() -> None:
    """Naming one module of a package must not load its siblings: every ``__init__.py`` is a docstring only."""
    packages = [Path(specflowd.__file__).parent, Path(specflowctl.__file__).parent]
    inits = [p for root in packages for p in root.rglob("__init__.py")]
    assert len(inits) >= 10
    importing = [
        str(p)
        for p in inits
        for node in ast.walk(ast.parse(p.read_text()))
        if isinstance(node, ast.Import | ast.ImportFrom) and not (
            isinstance(node, ast.ImportFrom) and node.module == "__future__"
        )
    ]
    assert importing == []


@pytest.mark.parametrize(
    "env",
    [
        {"SPECFLOWD_SOCKET": "~/s.sock", "XDG_RUNTIME_DIR": "/run/u"},
        {"XDG_RUNTIME_DIR": "/run/u", "SPECFLOW_HOME": "/h"},
        {"SPECFLOW_HOME": "~/sf"},
        {},
    ],
    ids=["explicit", "runtime-dir", "specflow-home", "home"],
)
def test_client_and_daemon_find_the_same_socket_and_home(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """The client keeps its own copy of the socket rule (it imports no daemon code): both must agree."""
    from specflowctl import paths as client_paths
    from specflowd import paths as daemon_paths

    for name in ("SPECFLOWD_SOCKET", "XDG_RUNTIME_DIR", "SPECFLOW_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert client_paths.default_socket_path() == daemon_paths.default_socket_path()
    assert client_paths.specflow_home() == daemon_paths.specflow_home()


def test_client_and_daemon_speak_the_same_protocol() -> None:
    from specflowctl.core import PROTOCOL_VERSION as CLIENT
    from specflowd.version import PROTOCOL_VERSION as DAEMON

    assert CLIENT == DAEMON
