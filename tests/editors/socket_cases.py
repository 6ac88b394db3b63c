"""Environments for the plugins' socket discovery, with the path specflowctl finds for each (the plugins must
find the same one)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from unittest.mock import patch

from specflowd.paths import default_socket_path

CASES: list[dict[str, str]] = [
    {"SPECFLOWD_SOCKET": "/x/explicit.sock", "XDG_RUNTIME_DIR": "/run/u", "SPECFLOW_HOME": "/h", "HOME": "/home/u"},
    {"SPECFLOWD_SOCKET": "~/s.sock", "HOME": "/home/u"},
    {"SPECFLOWD_SOCKET": "//x//./y/../s.sock/", "HOME": "/home/u"},
    {"SPECFLOWD_SOCKET": "", "XDG_RUNTIME_DIR": "/run/u/", "HOME": "/home/u"},
    {"XDG_RUNTIME_DIR": "", "SPECFLOW_HOME": "/opt/sf", "HOME": "/home/u"},
    {"SPECFLOW_HOME": "~/sf", "HOME": "/home/u"},
    {"SPECFLOW_HOME": "relative/sf", "HOME": "/home/u"},
    {"HOME": "/home/u"},
]


def write_cases(path: Path) -> list[dict[str, object]]:
    """Write ``[{env, expected}]`` to ``path`` as JSON; return it."""
    cases: list[dict[str, object]] = []
    for env in CASES:
        with patch.dict(os.environ, env, clear=True):
            cases.append({"env": env, "expected": str(default_socket_path())})
    path.write_text(json.dumps(cases))
    return cases
