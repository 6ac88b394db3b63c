"""Every package module that declares ``__all__`` exports exactly names that exist (httpx style)."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

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
    assert all(-32099 <= c <= -32000 for c in codes)
    assert all(issubclass(c, errors.SpecflowError) for c in classes)


def test_client_does_not_import_heavy_modules() -> None:
    code = (
        "import sys; import specflowctl.cli, specflowctl.fast, specflowctl.connection;"
        "heavy = [m for m in ('typer', 'pydantic', 'anyio', 'jsonrpcserver', 'anthropic') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
