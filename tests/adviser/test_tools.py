from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specflowd.adviser import tools
from specflowd.adviser.tools import ToolError, ToolRefused, glob_files, grep_files, read_file, resolve_inside, run_tool


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "a.py").write_text("import os\ndef alpha():\n    return 1\n")
    (root / "src" / "pkg" / "b.py").write_text("def beta():\n    raise SyntaxError\n")
    (root / "README.md").write_text("# Title\nalpha beta\n")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("alpha in git\n")
    outside = tmp_path / "secret.txt"
    outside.write_text("alpha secret\n")
    (root / "leak.txt").symlink_to(outside)
    (root / "leakdir").symlink_to(tmp_path)
    (root / "inner_link.py").symlink_to(root / "src" / "pkg" / "a.py")
    return root


@pytest.mark.parametrize(
    "name",
    ["../secret.txt", "src/../../secret.txt", "/etc/passwd", "leak.txt", "leakdir/secret.txt", "leakdir", "a\x00b"],
)
def test_paths_leaving_the_root_are_refused(project: Path, name: str) -> None:
    with pytest.raises(ToolRefused):
        resolve_inside(project, name)
    with pytest.raises(ToolRefused):
        run_tool(project, "Read", {"path": name})


def test_paths_inside_the_root_resolve(project: Path) -> None:
    assert resolve_inside(project, "src/pkg/../pkg/a.py") == (project / "src/pkg/a.py").resolve()
    assert resolve_inside(project, str(project / "README.md")) == (project / "README.md").resolve()
    assert resolve_inside(project, ".") == project.resolve()
    assert resolve_inside(project, "inner_link.py") == (project / "src/pkg/a.py").resolve()


def test_read_numbers_lines_and_honours_the_range(project: Path) -> None:
    assert read_file(project, "src/pkg/a.py") == "     1\timport os\n     2\tdef alpha():\n     3\t    return 1"
    part = read_file(project, "src/pkg/a.py", offset=2, limit=1)
    assert part.splitlines()[0] == "     2\tdef alpha():"
    assert "truncated" in part and "offset=3" in part


def test_read_caps_the_size(project: Path) -> None:
    (project / "big.txt").write_text("x" * 200 + "\n" * 1 + ("y" * 100 + "\n") * 3000)
    out = read_file(project, "big.txt")
    assert len(out) <= tools.READ_MAX_BYTES + 100
    assert out.endswith("]") and "truncated" in out.splitlines()[-1]


def test_read_refuses_binary_and_directories(project: Path) -> None:
    (project / "blob.bin").write_bytes(b"ab\x00cd")
    with pytest.raises(ToolError, match="binary"):
        read_file(project, "blob.bin")
    with pytest.raises(ToolError, match="not a file"):
        read_file(project, "src")


def test_grep_finds_lines_skips_git_and_outside_symlinks(project: Path) -> None:
    out = grep_files(project, r"alpha")
    lines = out.splitlines()
    assert "src/pkg/a.py:2:def alpha():" in lines
    assert "README.md:2:alpha beta" in lines
    assert not any("secret" in line or line.startswith(".git") for line in lines)


def test_grep_glob_case_and_bad_regex(project: Path) -> None:
    assert grep_files(project, "DEF", glob="b.py", ignore_case=True) == "src/pkg/b.py:1:def beta():"
    assert grep_files(project, "nothing-like-this") == "[no matches]"
    with pytest.raises(ToolError, match="invalid regex"):
        grep_files(project, "(")
    with pytest.raises(ToolRefused):
        grep_files(project, "alpha", path="..")


def test_grep_caps_results(project: Path) -> None:
    (project / "many.txt").write_text("hit\n" * 500)
    lines = grep_files(project, "hit").splitlines()
    assert len(lines) == tools.GREP_MAX_RESULTS + 1
    assert "truncated" in lines[-1]


def test_glob_lists_inside_paths_only(project: Path) -> None:
    assert glob_files(project, "**/*.py").splitlines() == ["inner_link.py", "src/pkg/a.py", "src/pkg/b.py"]
    assert "leak.txt" not in glob_files(project, "*").splitlines()
    assert glob_files(project, "*.py", path="src/pkg").splitlines() == ["src/pkg/a.py", "src/pkg/b.py"]
    for pattern in ("../*", "/etc/*"):
        with pytest.raises(ToolRefused):
            glob_files(project, pattern)


def test_only_read_only_tools_run(project: Path) -> None:
    for name in ("Write", "Bash", "Edit"):
        with pytest.raises(ToolRefused):
            run_tool(project, name, {"path": "x", "command": "rm -rf /"})
    with pytest.raises(ToolRefused):
        run_tool(project, "Grep", {"pattern": "a"}, allowed=frozenset({"Read"}))
    with pytest.raises(ToolError, match="must be a string"):
        run_tool(project, "Read", {"path": 3})
    assert os.path.exists(project / "README.md")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["..", ".", "src", "pkg", "leak.txt", "leakdir", "a.py", "nope"]), max_size=6))
def test_whatever_resolves_stays_inside(project: Path, parts: list[str]) -> None:
    try:
        target = resolve_inside(project, "/".join(parts) or ".")
    except ToolRefused:
        return
    real_root = project.resolve()
    assert target == real_root or real_root in target.parents
