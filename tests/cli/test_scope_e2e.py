"""Listing verbs default to the current project as every verb does; --all covers every project and names
each row's (real CLI, real daemon, the simulated agent)."""

from __future__ import annotations

import re

from tests.cli.conftest import demo_project
from tests.support import Daemon


def test_runs_default_to_this_project_and_all_names_the_project(sim_daemon: Daemon) -> None:
    d = sim_daemon
    roots = [demo_project(d, name) for name in ("alpha", "beta")]
    for root in roots:
        d.ctl("orchestrate", str(root), "--yes", "--auto-merge", timeout=120)
    every = d.rpc("runs.list")["runs"]
    mine = d.ctl("runs", cwd=roots[0] / "specs").stdout.splitlines()  # anywhere inside the project
    assert mine[0].split() == ["run", "step", "status", "cost", "started"]
    assert len(mine) - 1 == sum(r["project_root"] == str(roots[0]) for r in every) < len(every)
    assert re.match(r"^[0-9a-f]{8}  analyze    completed        \$0\.0080  \d{4}-", mine[1]), mine[1]
    both = d.ctl("runs", "--all", cwd=roots[0]).stdout.splitlines()
    assert both[0].split() == ["run", "project", "step", "status", "cost", "started"]
    assert len(both) - 1 == len(every) and {line.split()[1] for line in both[1:]} == {"alpha", "beta"}
    outside = d.ctl("runs", cwd=d.root)
    assert outside.stderr == f"({d.root} is not inside a registered project: the runs of every project)\n"
    assert outside.stdout == d.ctl("runs", "--all").stdout
    named = d.ctl("runs", str(roots[1]), cwd=roots[0]).stdout.count("\n") - 1  # PROJECT names one
    assert named == sum(r["project_root"] == str(roots[1]) for r in every)
    both_ways = d.ctl("runs", str(roots[1]), "--all", check=False)
    assert both_ways.returncode == 2 and both_ways.stderr == "specflowctl: give PROJECT or --all, not both\n"


def test_questions_default_to_this_project(sim_daemon: Daemon) -> None:
    d = sim_daemon
    root = demo_project(d)
    assert d.ctl("questions", cwd=root).stdout == "no questions are waiting\n"
    assert d.ctl("questions", "--all", cwd=root).stdout == "no questions are waiting\n"
