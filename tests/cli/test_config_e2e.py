"""`specflowctl config` (the daemon names the file and checks every version of it) and the effective
configuration in the preview (real CLI, real daemon)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.cli.conftest import demo_project
from tests.support import SPECFLOWCTL, Daemon

ORIGINAL = """# my settings: keep this comment
[orchestrate]
auto_merge = false  # reviewed by hand

[budget_notes]        # not specflowd's: must survive
owner = "me"
"""


def _ctl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SPECFLOWCTL, *args], env=env, capture_output=True, text=True, timeout=30)


def test_path_set_unset_show_keep_comments_and_refuse_bad_values(daemon: Daemon) -> None:
    env = daemon.env
    path = Path(_ctl(env, "config", "path").stdout.strip())
    assert path == Path(env["XDG_CONFIG_HOME"]) / "specflow" / "specflowd.toml"
    assert "(not created yet: built-in defaults)" in _ctl(env, "config", "show").stdout
    path.parent.mkdir(parents=True)
    path.write_text(ORIGINAL)
    assert _ctl(env, "config", "set", "orchestrate.auto_merge", "true").returncode == 0
    assert _ctl(env, "config", "set", "orchestrate.budget.total", "20").returncode == 0
    assert _ctl(env, "config", "set", "agent.claude", "/opt/claude/bin/claude").returncode == 0
    text = path.read_text()
    assert "# my settings: keep this comment" in text and "auto_merge = true  # reviewed by hand" in text
    assert '[budget_notes]        # not specflowd\'s: must survive\nowner = "me"' in text
    assert 'claude = "/opt/claude/bin/claude"' in text and "total = 20" in text
    shown = _ctl(env, "config", "show").stdout
    assert "auto_merge = true  # set here" in shown and "total = 20.0  # set here" in shown
    assert "per_batch = 5.0\n" in shown and "desktop = true\n" in shown  # defaults, not marked
    for args, code, says in [
        (("orchestrate.max_heal_attempts", "99"), 1, "max_heal_attempts"),
        (("orchestrate.no_such_flag", "1"), 1, "no_such_flag"),
        (("notify.events", '["questions"]'), 1, "unknown event name"),
        (("bogus.key", "1"), 2, "SECTION.NAME"),
    ]:
        before = path.read_text()
        refused = _ctl(env, "config", "set", *args)
        assert refused.returncode == code and says in refused.stderr, (args, refused.stderr)
        assert path.read_text() == before  # nothing written
    assert _ctl(env, "config", "unset", "orchestrate.budget.total").returncode == 0
    assert "total = 20" not in path.read_text()
    shown_json = json.loads(_ctl(env, "config", "show", "--json").stdout)
    assert shown_json["file"] == str(path) and "orchestrate.auto_merge" in shown_json["set_in_file"]
    assert shown_json["effective"]["orchestrate"]["auto_merge"] is True
    assert {"settings.get", "settings.check"} <= {m["name"] for m in daemon.rpc("rpc.discover")["methods"]}


def test_edit_saves_only_what_validates(daemon: Daemon) -> None:
    env = dict(daemon.env)
    editor = daemon.root / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "%s\\n" "$NEW_TEXT" >> "$1"\n')
    editor.chmod(0o755)
    env.update(EDITOR=str(editor), VISUAL="")
    saved = subprocess.run([SPECFLOWCTL, "config", "edit"], env=dict(env, NEW_TEXT="[notify]\ndesktop = false"),
                           capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)  # fmt: skip
    path = Path(_ctl(env, "config", "path").stdout.strip())
    assert saved.returncode == 0 and "desktop = false" in path.read_text()
    before = path.read_text()
    broken = subprocess.run([SPECFLOWCTL, "config", "edit"], env=dict(env, NEW_TEXT="[orchestrate]\nbatch_size_fallback = 0"),
                            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)  # fmt: skip
    assert broken.returncode == 1 and "batch_size_fallback" in broken.stderr and "unchanged" in broken.stderr
    assert path.read_text() == before


def test_preview_shows_where_settings_came_from_and_no_flags_override(sim_daemon: Daemon) -> None:
    d = sim_daemon
    root = demo_project(d)
    d.ctl("config", "set", "orchestrate.auto_merge", "true")
    d.ctl("config", "set", "orchestrate.budget.total", "12.5")
    path = d.ctl("config", "path").stdout.strip()
    shown = d.ctl("orchestrate", str(root), "--dry-run").stdout
    assert f"auto_merge = true  ({path})" in shown and f"budget.total = 12.5  ({path})" in shown
    assert "● merge      auto-merge" in shown
    overridden = d.ctl("orchestrate", str(root), "--dry-run", "--no-auto-merge", "--budget-total", "9").stdout
    assert "auto_merge = false  (command line)" in overridden and "budget.total = 9.0  (command line)" in overridden
    assert "○ merge      auto_merge is off: merge waits for `specflowctl merge`" in overridden
    declined = d.ctl("orchestrate", str(root), input="n\n", check=False)
    assert declined.returncode == 1 and "Start this orchestration (spending at most $12.50 in total)?" in declined.stdout
    assert os.path.exists(path)


def test_settings_are_checked_as_a_whole_and_dash_values_are_values(sim_daemon: Daemon) -> None:
    d = sim_daemon
    config_file = Path(d.ctl("config", "path").stdout.strip())
    negative = d.ctl("config", "set", "orchestrate.budget.total", "-5", check=False)
    assert negative.returncode == 1 and "No such option" not in negative.stderr
    assert negative.stderr.startswith("specflowctl: invalid settings: orchestrate.budget.total: Input should be greater than 0")
    contradiction = d.ctl("config", "set", "orchestrate.budget.per_batch", "100", check=False)
    assert contradiction.returncode == 1
    assert contradiction.stderr == (
        "specflowctl: invalid settings: orchestrate.budget.per_batch ($100.00) is more than orchestrate.budget.total "
        "($50.00): a batch run could never spend its cap; lower orchestrate.budget.per_batch or raise "
        f"orchestrate.budget.total; {config_file} is unchanged\n"
    )
    assert not config_file.exists()  # nothing written
    meant = d.ctl("config", "set", "orchestrate.budget.heal", "10")  # may be meant: written, with a warning
    assert meant.stderr == (
        "specflowctl: warning: orchestrate.budget.heal ($10.00) is more than orchestrate.budget.per_batch ($5.00): "
        "a healing run may cost more than the batch it heals\n"
    )
    assert "heal = 10" in config_file.read_text()
    root = demo_project(d)
    preview = d.ctl("orchestrate", str(root), "--dry-run", "--budget-batch", "70").stdout
    assert "warning: budget.per_batch ($70.00) is more than budget.total ($50.00)" in preview
