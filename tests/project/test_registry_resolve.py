"""Registry.resolve by path goes through an index built when the file is (re)loaded: it must give the same
answers as resolving every entry would, after every kind of change to the registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from specflowd.errors import NotFound
from specflowd.project.registry import Registry


def _project(parent: Path, name: str) -> Path:
    root = parent / name
    (root / ".specify").mkdir(parents=True)
    return root


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    registry = Registry(tmp_path / "registry.json")
    registry.load()
    return registry


def test_a_path_inside_resolves_to_the_innermost_registered_project(registry: Registry, tmp_path: Path) -> None:
    outer = _project(tmp_path / "home", "outer")
    inner = _project(outer, "inner")
    a = registry.register(str(outer))
    b = registry.register(str(inner))
    assert registry.resolve(str(outer)).id == a.id
    assert registry.resolve(str(outer / "src" / "x.py")).id == a.id  # need not exist
    assert registry.resolve(str(inner / "deep" / "er")).id == b.id
    assert registry.resolve(str(inner / ".." / "src")).id == a.id  # normalised before the lookup
    assert registry.resolve(a.id).id == a.id


def test_register_and_unregister_are_seen_at_once(registry: Registry, tmp_path: Path) -> None:
    root = _project(tmp_path / "home", "p")
    with pytest.raises(NotFound, match="not inside a registered project"):
        registry.resolve(str(root / ".specify"))
    entry = registry.register(str(root))
    assert registry.resolve(str(root / "src")).id == entry.id
    registry.unregister(str(root / "src"))
    with pytest.raises(NotFound):
        registry.resolve(str(root))
    with pytest.raises(NotFound):
        registry.resolve(entry.id)


def test_an_entry_moved_by_another_tool_resolves_at_its_new_path_only(registry: Registry, tmp_path: Path) -> None:
    old = _project(tmp_path / "home", "old")
    new = _project(tmp_path / "home", "new")
    entry = registry.register(str(old))
    document = json.loads(registry.path.read_text())
    document["projects"][entry.id]["path"] = str(new)
    registry.path.write_text(json.dumps(document))
    assert registry.load() is True
    assert registry.resolve(str(new / "x")).id == entry.id
    with pytest.raises(NotFound):
        registry.resolve(str(old / "x"))


def test_a_symlinked_path_resolves_like_its_target(registry: Registry, tmp_path: Path) -> None:
    root = _project(tmp_path / "home", "real")
    link = tmp_path / "home" / "link"
    link.symlink_to(root)
    entry = registry.register(str(root))
    assert registry.resolve(str(link / "src")).id == entry.id
    # an entry written by another tool under the symlink's name is found through the real path too
    document = json.loads(registry.path.read_text())
    document["projects"][entry.id]["path"] = str(link)
    registry.path.write_text(json.dumps(document))
    registry.load()
    assert registry.resolve(str(root / "src")).id == entry.id


def test_an_entry_naming_the_home_directory_matches_only_itself(registry: Registry, tmp_path: Path) -> None:
    home = tmp_path / "home"
    project = _project(home, "p")
    registry.path.write_text(
        json.dumps({"projects": {"wide": {"path": str(home), "name": "home"}, "p": {"path": str(project)}}})
    )
    registry.load()
    assert registry.resolve(str(home)).id == "wide"
    assert registry.resolve(str(project / "x")).id == "p"
    with pytest.raises(NotFound):
        registry.resolve(str(home / "elsewhere"))


def test_unresolvable_entries_and_paths_match_nothing(registry: Registry, tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    project = _project(tmp_path / "home", "p")
    registry.path.write_text(json.dumps({"projects": {"loop": {"path": str(loop / "x")}, "p": {"path": str(project)}}}))
    registry.load()
    assert registry.resolve(str(project)).id == "p"
    with pytest.raises(NotFound):
        registry.resolve(str(loop / "x"))
    with pytest.raises(NotFound):
        registry.resolve("/nul\x00here")
