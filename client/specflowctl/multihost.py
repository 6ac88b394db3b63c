"""``specflowctl ls --hosts a,b,c``: every host's orchestrations in one table (stdlib only).

The hosts are asked concurrently, one thread and one ssh connection each, so the table costs the slowest
host, not their sum; a host that cannot be reached becomes one row saying so and the others are shown.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from specflowctl import core, remote, render

__all__ = ["gather", "hosts_table"]


def _one(host: str) -> dict[str, Any]:
    try:
        where = remote.build_target(host)
        listed = core.call_target(where, "orchestrate.list", {"include_finished": True})
        scheduler = core.call_target(where, "scheduler.status")
    except ValueError as exc:
        return {"host": host, "ok": False, "error": str(exc)}
    except core.VerbFailed as exc:
        return {"host": host, "ok": False, "error": exc.message}
    return {"host": host, "ok": True, "orchestrations": listed["orchestrations"], "scheduler": scheduler}


def gather(hosts: list[str]) -> list[dict[str, Any]]:
    """Each host's orchestrations and queue (or why it could not say), in the order given."""
    if not hosts:
        return []
    with ThreadPoolExecutor(max_workers=min(16, len(hosts))) as pool:
        return list(pool.map(_one, hosts))


def _created(record: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(record["created_at"]).replace("Z", "+00:00")).timestamp()


def hosts_table(results: list[dict[str, Any]], now_epoch: float | None = None) -> str:
    """One table, a host column first: active orchestrations first, then newest; a row per unreachable host."""
    now = time.time() if now_epoch is None else now_epoch
    rows: list[tuple[str, ...]] = []
    records: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for result in results:
        if not result["ok"]:
            rows.append((result["host"], "-", "-", "UNREACHABLE", "", "", "", ""))
            continue
        queued = {q["orchestration"]: q for q in result["scheduler"]["queue"] if q.get("orchestration")}
        records += [(result["host"], r, queued) for r in result["orchestrations"]]
        if not result["orchestrations"]:
            rows.append((result["host"], "-", "-", "no orchestrations", "", "", "", ""))
    short = render.short_ids([r["id"] for _, r, _ in records], render.ORCH_ID_LEN)
    records.sort(key=lambda item: (item[1]["status"] in ("completed", "failed", "cancelled"), -_created(item[1])))
    for host, r, queued in records:
        batches = r.get("batches") or []
        total = sum(len(b["task_ids"]) for b in batches)
        done = sum(len(b["task_ids"]) for b in batches if b["status"] in ("completed", "healed"))
        status = (
            f"Queued #{queued[r['id']]['position']} ({queued[r['id']]['group']})"
            if r["id"] in queued
            else render.STATE_WORDS.get(r["status"], r["status"])
        )
        rows.append(
            (
                host,
                short[r["id"]],
                r["project_path"].rstrip("/").rsplit("/", 1)[-1],
                status,
                r["step"],
                f"{done}/{total}" if total else "-",
                f"${r['totals']['spent_usd']:.2f}",
                render.age(now - _created(r)),
            )
        )
    head = ("host", "id", "project", "status", "step", "tasks", "spent", "age")
    widths = [max(len(str(row[i])) for row in [head, *rows]) for i in range(len(head))]
    table = "\n".join(
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [head, *rows]
    )
    notes = [f"{r['host']}: {r['error']}" for r in results if not r["ok"]]
    return table + ("\n\n" + "\n".join(notes) if notes else "")
