"""Fake SpecFlow CLI 3.0.0 for specflowd's tests. Stdlib only, no import of specflowd (a second, independent
reading of docs/specflow-cli.md, so the two can disagree and a test see it).

It plays what the real CLI (wiseyoda/specflow af8423a: the `specflow` dispatcher in front of a node program
parsed with commander) is observed to do; `tests/project/test_specflow_trace_replay.py` replays a recording
of the real one (tests/fixtures/specflow-traces) against it, step by step. Commands:

  init [--name n] [--force] / project init    the project skeleton, templates from ~/.specflow/templates
  state set k=v [k=v …]      one read, one write; values JSON-or-text, coerced to the schema type; the file
                             is parsed through the state schema first (unknown keys inside its strict objects
                             are dropped at the next write); an invalid file is written back raw; errors as
                             `Error: …` / `Hint: …` on **stdout**, exit 1
  state get [k]              the whole (schema-parsed) state, objects as JSON, scalars as text, `(not set)`
  status                     phase/step from the state, hasUserGate from the ROADMAP row, progress and
                             context with an open phase, the health checks, nextAction by the CLI's rules
  next [--type verify]       first open task in section order whose dependencies are done
  mark ID… [--incomplete|--blocked why] [--evidence e]
                             every id must be a parsed task or nothing is written; then every line
                             *containing* the id is edited (substring!)
  check [--gate g] [--fix]   the gates (design, specify, implement, verify, memory) and health issues
  phase [status] / open [NNNN] [--hotfix [name]] / close [--dry-run] [--keep-specs] / defer item… /
  add NNNN name [--gate g] [--user-gate] [--no-file]
Anything the real program refuses is refused the same way: its errors `Error [CODE]: …` / `Suggestion: …` on
stderr, commander's (`error: unknown option '--section'`, with its "Did you mean" hint) on stderr, exit 1;
`--json`, `-q` and `-V` are the program's options wherever they stand. The dispatcher refuses `context` and
the other removed bash commands. `upgrade`, `workflow`, `templates`, `state show/init/sync` and `phase
archive/scan` exist in the real CLI but not here (exit 2, said on stderr).

``FAKE_SPECFLOW_LOG=/path`` appends {"argv", "cwd", "exit"} per invocation. ``FAKE_SPECFLOW_FAIL=text``
makes every `state set` whose arguments contain the text fail like a bad pair (for failure tests).
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:  # the fake runs once per call: it imports only what it uses (not typing; shutil, decimal late)
    from collections.abc import Callable
    from typing import Any

VERSION = "3.0.0"
UNDEF: Any = type("Undefined", (), {"__repr__": lambda self: "undefined"})()  # JavaScript's undefined
STEP_INDEX = {"design": 0, "analyze": 1, "implement": 2, "verify": 3, "merge": 4}
STEP_STATUSES = ["not_started", "pending", "in_progress", "complete", "failed", "blocked", "skipped"]
PHASE_STATUSES = ["not_started", "in_progress", "complete"]


def uuid4() -> str:
    """crypto.randomUUID() (without importing uuid, which costs more than the call it serves)."""
    h = bytearray(os.urandom(16))
    h[6], h[8] = (h[6] & 0x0F) | 0x40, (h[8] & 0x3F) | 0x80
    x = h.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


# --------------------------------------------------------------------------- JavaScript's JSON and strings
def js_number(value: int | float) -> str:
    """Number.prototype.toString (and JSON.stringify) of a number."""
    if isinstance(value, int):
        return str(value)
    if value != value:
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "0"
    from decimal import Decimal

    sign, parts = ("-" if value < 0 else ""), Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, parts.digits))
    k, n = len(digits), int(parts.exponent) + len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    exponent = n - 1
    return sign + digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if exponent >= 0 else "-") + str(abs(exponent))


def js_json(value: Any, indent: int | None = 2, level: int = 0) -> str:
    """JSON.stringify(value, null, indent)."""
    if value is None or value is UNDEF:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int | float):
        return js_number(value) if isinstance(value, int) or math.isfinite(value) else "null"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    pad, inner = ("", "") if indent is None else ("\n" + " " * indent * level, "\n" + " " * indent * (level + 1))
    if isinstance(value, list):
        if not value:
            return "[]"
        return "[" + ",".join(inner + js_json(v, indent, level + 1) for v in value) + pad + "]"
    items = [(k, v) for k, v in value.items() if v is not UNDEF]
    if not items:
        return "{}"
    colon = ":" if indent is None else ": "
    return "{" + ",".join(inner + json.dumps(str(k), ensure_ascii=False) + colon + js_json(v, indent, level + 1)
                          for k, v in items) + pad + "}"  # fmt: skip


def js_parse(text: str) -> Any:
    """JSON.parse: ValueError where it throws a SyntaxError (Python also takes NaN and Infinity; it does not)."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"Unexpected token {constant}")

    return json.loads(text, parse_constant=refuse)


def js_string(value: Any) -> str:
    """String(value)."""
    if value is None:
        return "null"
    if value is UNDEF:
        return "undefined"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int | float):
        return js_number(value)
    if isinstance(value, list):
        return ",".join("" if v is None or v is UNDEF else js_string(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"  # fmt: skip
LINE_END = "\n\r\u2028\u2029"  # what JavaScript's `.` does not match


def trim(text: str) -> str:
    return text.strip(JS_SPACE)


def js_to_number(text: str) -> float | int | None:
    """Number(text) for a string; None where it is NaN."""
    text = trim(text)
    if not text:
        return 0
    if re.fullmatch(r"0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+", text):
        return int(text, 0)
    if re.fullmatch(r"[+-]?(Infinity|([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?)", text):
        number = float(text.replace("Infinity", "inf"))
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    return None


def js_parse_int(value: Any) -> int | None:
    """parseInt(String(value), 10); None for NaN."""
    found = re.match(r"[+-]?[0-9]+", trim(js_string(value)))
    return int(found.group(0)) if found else None


def js_round(value: float) -> int:
    return math.floor(value + 0.5)


def locale_key(name: str) -> tuple[str, str]:
    """An approximation of String.prototype.localeCompare: case-insensitive first, lower case before upper."""
    return name.casefold(), name.swapcase()


def iso_now() -> str:
    """new Date().toISOString()."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def today() -> str:
    return iso_now()[:10]


TEXT = {"encoding": "utf-8", "errors": "replace", "newline": ""}  # files as node reads and writes them


def read(path: Path) -> str:
    with open(path, **TEXT) as handle:  # type: ignore[call-overload]
        return handle.read()  # type: ignore[no-any-return]


def _shutil() -> Any:
    import shutil

    return shutil


def listdir(path: Path) -> list[str]:
    """fs.readdir: libuv sorts the names (strcmp)."""
    return sorted(os.listdir(path))


# --------------------------------------------------------------------------- output and errors
class Out:
    json = False
    quiet = False


def emit(text: str, stream: Any = None) -> None:
    (stream or sys.stdout).write(text + "\n")


def output(data: Any, human: str | None = None) -> None:
    """lib/output.ts output(): JSON with the program's --json, else the human text (nothing with -q)."""
    if Out.json:
        emit(js_json(data))
    elif not Out.quiet:
        emit(human if human is not None else data if isinstance(data, str) else js_json(data))


class SpecflowError(Exception):
    """The CLI's errors: `Error [CODE]: message` and `Suggestion: …` on stderr, exit 1 (handleError)."""

    def __init__(self, message: str, code: str, suggestion: str | None = None) -> None:
        super().__init__(message)
        self.code, self.suggestion = code, suggestion


def not_found(what: str, suggestion: str | None = None) -> SpecflowError:
    return SpecflowError(f"{what} not found", "NOT_FOUND", suggestion)


def invalid(message: str, suggestion: str | None = None) -> SpecflowError:
    return SpecflowError(message, "VALIDATION", suggestion)


def state_error(message: str, suggestion: str | None = None) -> SpecflowError:
    return SpecflowError(message, "STATE", suggestion)


class JsError(Exception):
    """A plain Error: `Error: message` on stderr (handleError), or the message where a command catches it."""


def handle_error(exc: Exception) -> int:
    if isinstance(exc, SpecflowError):
        emit(f"Error [{exc.code}]: {exc}" + (f"\nSuggestion: {exc.suggestion}" if exc.suggestion else ""), sys.stderr)
    else:
        emit(f"Error: {exc}", sys.stderr)
    return 1


def not_implemented(what: str) -> int:
    emit(f"fake specflow: `{what}` is not implemented here (the real SpecFlow CLI 3.0.0 has it)", sys.stderr)
    return 2


# --------------------------------------------------------------------------- paths (lib/paths.ts)
def find_project_root() -> Path | None:
    """The nearest directory (not `/` itself) holding .specflow or .specify."""
    current = Path.cwd()
    while current != Path(current.anchor):
        if (current / ".specflow").exists() or (current / ".specify").exists():
            return current
        current = current.parent
    return None


def require_root(suggestion: str = "Not in a SpecFlow project directory") -> Path:
    root = find_project_root()
    if root is None:
        raise not_found("SpecFlow project", suggestion)
    return root


def state_path(root: Path | None = None) -> Path:
    return (root or Path.cwd()) / ".specflow" / "orchestration-state.json"


def specflow_home() -> Path:
    return Path(os.environ.get("HOME") or os.path.expanduser("~")) / ".specflow"


# --------------------------------------------------------------------------- the state schema (zod, as the CLI's)
class Z:
    """A zod schema: parse() returns the parsed value (or UNDEF) and appends issues (path, message)."""

    typename = "ZodUnknown"

    def parse(self, value: Any, path: list[Any], issues: list[tuple[list[Any], str]]) -> Any:
        return value

    def optional(self) -> Z:
        return Wrap("optional", self)

    def nullable(self) -> Z:
        return Wrap("nullable", self)

    def nullish(self) -> Z:
        return Wrap("optional", Wrap("nullable", self))

    def default(self, value: Any) -> Z:
        return Wrap("default", self, value)


def received(value: Any) -> str:
    if value is UNDEF:
        return "undefined"
    if value is None:
        return "null"
    if value is True or value is False:
        return "boolean"
    if isinstance(value, int | float):
        return "number" if value == value else "nan"
    names: dict[type, str] = {str: "string", list: "array", dict: "object"}
    return names.get(type(value), "unknown")


def type_issue(expected: str, value: Any, path: list[Any], issues: list[tuple[list[Any], str]]) -> Any:
    issues.append((path, "Required" if value is UNDEF else f"Expected {expected}, received {received(value)}"))
    return UNDEF


class Wrap(Z):
    def __init__(self, how: str, inner: Z, value: Any = None) -> None:
        self.how, self.inner, self.value = how, inner, value
        self.typename = inner.typename

    def parse(self, value: Any, path: list[Any], issues: list[tuple[list[Any], str]]) -> Any:
        if self.how == "optional" and value is UNDEF:
            return UNDEF
        if self.how == "nullable" and value is None:
            return None
        if self.how == "default" and value is UNDEF:
            value = copy.deepcopy(self.value)
        return self.inner.parse(value, path, issues)


class Leaf(Z):
    def __init__(self, kind: str, values: list[str] | None = None) -> None:
        self.kind, self.values = kind, values
        self.typename = {"string": "ZodString", "number": "ZodNumber", "boolean": "ZodBoolean",
                         "enum": "ZodEnum", "unknown": "ZodUnknown"}[kind]  # fmt: skip

    def parse(self, value: Any, path: list[Any], issues: list[tuple[list[Any], str]]) -> Any:
        kind = self.kind
        if kind == "unknown":
            return value
        if kind == "enum":
            options = " | ".join(f"'{v}'" for v in self.values or [])
            if not isinstance(value, str):
                return type_issue(options, value, path, issues)
            if value not in (self.values or []):
                issues.append((path, f"Invalid enum value. Expected {options}, received '{value}'"))
                return UNDEF
            return value
        ok = {"string": isinstance(value, str), "boolean": value is True or value is False,
              "number": isinstance(value, int | float) and not isinstance(value, bool) and value == value}[kind]  # fmt: skip
        return value if ok else type_issue(kind, value, path, issues)


class Arr(Z):
    typename = "ZodArray"

    def __init__(self, item: Z) -> None:
        self.item = item

    def parse(self, value: Any, path: list[Any], issues: list[tuple[list[Any], str]]) -> Any:
        if not isinstance(value, list):
            return type_issue("array", value, path, issues)
        return [self.item.parse(v, [*path, i], issues) for i, v in enumerate(value)]


class Rec(Z):
    typename = "ZodRecord"

    def __init__(self, item: Z) -> None:
        self.item = item

    def parse(self, value: Any, path: list[Any], issues: list[tuple[list[Any], str]]) -> Any:
        if not isinstance(value, dict):
            return type_issue("object", value, path, issues)
        return {k: self.item.parse(v, [*path, k], issues) for k, v in value.items()}


class Obj(Z):
    typename = "ZodObject"

    def __init__(self, shape: dict[str, Z], passthrough: bool = False) -> None:
        self.shape, self.passthrough = shape, passthrough

    def parse(self, value: Any, path: list[Any], issues: list[tuple[list[Any], str]]) -> Any:
        if not isinstance(value, dict):
            return type_issue("object", value, path, issues)
        result: dict[str, Any] = {}
        for key, schema in self.shape.items():  # the schema's keys first, in its order
            parsed = schema.parse(value.get(key, UNDEF), [*path, key], issues)
            if parsed is not UNDEF:
                result[key] = parsed
        if self.passthrough:  # then unknown keys as they came, or none (zod strips them)
            result.update((k, v) for k, v in value.items() if k not in self.shape)
        return result


def string() -> Z:
    return Leaf("string")


def number() -> Z:
    return Leaf("number")


def boolean() -> Z:
    return Leaf("boolean")


def enum(*values: str) -> Z:
    return Leaf("enum", list(values))


CONFIG = Obj({
    "autoMerge": boolean().default(False), "additionalContext": string().default(""),
    "skipDesign": boolean().default(False), "skipAnalyze": boolean().default(False),
    "skipImplement": boolean().default(False), "skipVerify": boolean().default(False),
    "autoHealEnabled": boolean().default(True), "maxHealAttempts": number().default(1),
    "batchSizeFallback": number().default(15), "pauseBetweenBatches": boolean().default(False),
    "budget": Obj({"maxPerBatch": number().default(5.0), "maxTotal": number().default(50.0),
                   "healingBudget": number().default(2.0), "decisionBudget": number().default(0.5)}).default({}),
})  # fmt: skip
DASHBOARD = Obj({
    "active": Obj({"id": string(), "startedAt": string(),
                   "status": enum("running", "paused", "waiting_merge", "needs_attention", "completed", "failed",
                                  "cancelled").default("running"),
                   "config": CONFIG}).nullable().default(None),
    "batches": Obj({"total": number().default(0), "current": number().default(0),
                    "items": Arr(Obj({"section": string(), "taskIds": Arr(string()),
                                      "status": enum("pending", "running", "completed", "failed", "healed"),
                                      "workflowId": string().optional(),
                                      "healAttempts": number().default(0)})).default([])}).default(
        {"total": 0, "current": 0, "items": []}),
    "cost": Obj({"total": number().default(0), "perBatch": Arr(number()).default([])}).default(
        {"total": 0, "perBatch": []}),
    "decisionLog": Arr(Obj({"timestamp": string(), "action": string(), "reason": string()})).default([]),
    "lastWorkflow": Obj({"id": string(), "skill": string(),
                         "status": enum("running", "waiting_for_input", "completed", "failed", "cancelled",
                                        "detached", "stale")}).nullable().default(None),
    "recoveryContext": Obj({"issue": string(), "options": Arr(enum("retry", "skip", "abort")),
                            "failedWorkflowId": string().optional()}).optional(),
})  # fmt: skip
STATE_SCHEMA = Obj({
    "schema_version": string(),
    "project": Obj({"id": string(), "name": string(), "path": string()}),
    "last_updated": string().nullish(),
    "_fileMtime": string().nullish(),
    "orchestration": Obj({
        "phase": Obj({"id": string().nullish(), "number": string().nullish(), "name": string().nullish(),
                      "branch": string().nullish(), "status": enum(*PHASE_STATUSES).nullish(),
                      "goals": Arr(string()).nullish(), "hasUserGate": boolean().nullish(),
                      "userGateStatus": enum("pending", "confirmed", "skipped").nullish(),
                      "userGateCriteria": string().nullish()}).nullish(),
        "next_phase": Obj({"number": string().nullish(), "name": string().nullish(),
                           "description": string().nullish()}).nullish(),
        "step": Obj({"current": enum(*STEP_INDEX).nullish(), "index": number().nullish(),
                     "status": enum(*STEP_STATUSES).nullish()}).nullish(),
        "analyze": Obj({"iteration": number().nullish(), "completedAt": number().nullish()}).nullish(),
        "implement": Obj({"current_tasks": Arr(string()).nullish(), "current_section": string().nullish(),
                          "started_at": string().nullish()}).nullish(),
        "progress": Obj({"tasks_completed": number().nullish(), "tasks_total": number().nullish(),
                         "percentage": number().nullish()}).nullish(),
        "dashboard": DASHBOARD.nullish(),
    }, passthrough=True).nullish(),
    "health": Obj({"status": string().nullish(), "last_check": string().nullish(),
                   "issues": Arr(Z()).nullish()}).nullish(),
    "memory": Obj({"archive_reviews": Rec(Obj({"reviewed_at": string().nullish(),
                                               "promotions": Arr(string()).nullish(),
                                               "skipped": Arr(string()).nullish()})).nullish()}).nullish(),
    "actions": Obj({"available": Arr(string()).nullish(), "pending": Arr(string()).nullish(),
                    "history": Arr(Obj({"type": string().nullish(), "phase_number": string().nullish(),
                                        "phase_name": string().nullish(), "branch": string().nullish(),
                                        "completed_at": string().nullish(),
                                        "tasks_completed": Z().nullish(), "tasks_total": Z().nullish(),
                                        "phase": string().nullish(), "action": string().nullish(),
                                        "timestamp": string().nullish()}, passthrough=True)).nullish()}).nullish(),
}, passthrough=True)  # fmt: skip


def schema_parse(data: Any) -> tuple[Any, list[tuple[list[Any], str]]]:
    issues: list[tuple[list[Any], str]] = []
    parsed = STATE_SCHEMA.parse(data, [], issues)
    return parsed, issues


def schema_type(key: str) -> str | None:
    """resolveSchemaType: the zod type name at a dotted path of the state schema, None where unknown."""
    schema: Z = STATE_SCHEMA
    for part in key.split("."):
        while isinstance(schema, Wrap):
            schema = schema.inner
        if isinstance(schema, Obj):
            if part not in schema.shape:
                return None
            schema = schema.shape[part]
        elif isinstance(schema, Rec):
            schema = schema.item
        else:
            return None
    return schema.typename


def coerce(key: str, value: Any) -> Any:
    kind = schema_type(key)
    if kind == "ZodString" and isinstance(value, int | float) and not isinstance(value, bool):
        return js_number(value)
    if kind == "ZodNumber" and isinstance(value, str):
        number_ = js_to_number(value)
        return value if number_ is None else number_
    if kind == "ZodBoolean" and value in ("true", "false"):
        return value == "true"
    return value


# --------------------------------------------------------------------------- the state file (lib/state.ts)
def read_raw(root: Path | None = None) -> tuple[Any, str | None, list[tuple[list[Any], str]]]:
    """readRawState: (data, error, zod issues); data is UNDEF when missing or not JSON."""
    path = state_path(root)
    if not path.exists():
        return UNDEF, "State file not found", []
    try:
        data = js_parse(read(path))
    except ValueError:
        return UNDEF, "Invalid JSON", []
    except OSError as exc:
        return UNDEF, str(exc), []
    _, issues = schema_parse(data)
    return data, ("Schema validation failed" if issues else None), issues


def read_state(root: Path | None = None) -> dict[str, Any]:
    """readState: the file parsed through the schema, or the CLI's errors."""
    path = state_path(root)
    if not path.exists():
        raise not_found("State file", 'Run "specflow project init" to create a new project')
    try:
        data = js_parse(read(path))
    except ValueError:
        raise state_error("State file contains invalid JSON") from None
    parsed, issues = schema_parse(data)
    if issues:
        lines = ["  - " + ".".join(map(str, p)) + ": " + m for p, m in issues[:3]]
        if len(issues) > 3:
            lines.append(f"  ... and {len(issues) - 3} more issues")
        raise state_error("State file schema validation failed:\n" + "\n".join(lines)
                          + '\n\nRun "specflow check --fix" to attempt auto-repair.')  # fmt: skip
    return parsed  # type: ignore[no-any-return]


def try_read_state(root: Path | None = None) -> dict[str, Any] | None:
    try:
        return read_state(root)
    except SpecflowError:
        return None


def atomic_write(path: Path, text: str) -> None:
    tmp = path.parent / f".tmp-{uuid4()}"
    tmp.write_text(text, **TEXT)
    tmp.replace(path)


def write_state(state: dict[str, Any], root: Path | None = None) -> None:
    """writeState: last_updated now, 2-space JSON and a newline, through a temp file."""
    path = state_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    state["last_updated"] = iso_now()
    atomic_write(path, js_json(state) + "\n")


def write_raw_state(data: Any, root: Path | None = None) -> None:
    """writeRawState: no newline at the end."""
    path = state_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, js_json(data))


def get_value(doc: Any, key: str) -> Any:
    """getStateValue: UNDEF where the path does not lead anywhere."""
    current = doc
    for part in key.split("."):
        if current is None or current is UNDEF:
            return UNDEF
        if isinstance(current, dict):
            current = current.get(part, UNDEF)
        elif isinstance(current, list):
            current = current[int(part)] if part.isdigit() and int(part) < len(current) else (
                len(current) if part == "length" else UNDEF)  # fmt: skip
        elif isinstance(current, str) and part == "length":
            current = len(current)
        else:
            return UNDEF
    return current


def set_value(doc: Any, key: str, value: Any) -> Any:
    """setStateValue on a structured clone: missing (or null) parents become {}; a primitive parent throws."""
    result = copy.deepcopy(doc)
    parts = key.split(".")
    current = result
    for part in [*parts[:-1], None]:
        if not isinstance(current, dict | list):
            kind = "string" if isinstance(current, str) else "boolean" if isinstance(current, bool) else "number"
            leaf = part if part is not None else parts[-1]
            raise JsError(f"Cannot create property '{leaf}' on {kind} '{js_string(current)}'")
        if part is None:
            break
        if isinstance(current, list):
            current = {}  # a property set on an array is lost when it is written
            continue
        if current.get(part) is None:
            current[part] = {}
        current = current[part]
    if isinstance(current, dict):
        current[parts[-1]] = value
    return result


def create_initial_state(name: str, path: Path) -> dict[str, Any]:
    now = iso_now()
    return {
        "schema_version": "3.0",
        "project": {"id": uuid4(), "name": name, "path": str(path)},
        "last_updated": now,
        "orchestration": {
            "phase": {"id": None, "number": None, "name": None, "branch": None, "status": "not_started"},
            "next_phase": None,
            "step": {"current": "design", "index": 0, "status": "not_started"},
            "implement": None,
            "dashboard": DASHBOARD.parse({}, [], []),
        },
        "health": {"status": "initializing", "last_check": now, "issues": []},
    }


# --------------------------------------------------------------------------- ROADMAP.md (lib/roadmap.ts)
ROADMAP_STATUS_TEXT = {"not_started": "⬜ Not Started", "in_progress": "🔄 In Progress", "complete": "✅ Complete",
                       "awaiting_user": "⏳ Awaiting User", "blocked": "🚫 Blocked"}  # fmt: skip


def roadmap_status(cell: str) -> str:
    lower = cell.lower().replace("_", " ")
    for words, status in ((("✅", "complete", "done"), "complete"), (("🔄", "in progress", "active"), "in_progress"),
                          (("⏳", "awaiting", "waiting"), "awaiting_user"), (("🚫", "blocked"), "blocked")):
        if any(w in lower for w in words):
            return status
    return "not_started"  # fmt: skip


def table_cells(line: str) -> list[str]:
    return [trim(c) for c in re.sub(r"\|$", "", re.sub(r"^\|", "", line)).split("|")]


def parse_roadmap(content: str) -> list[dict[str, Any]]:
    phases: list[dict[str, Any]] = []
    in_table = header_seen = False
    for index, line in enumerate(content.split("\n")):
        if re.match(r"^\*\*Project\*\*:\s*.", line) or re.match(r"^\*\*Schema Version\*\*:\s*.", line):
            continue
        if "|" in line and "Phase" in line and "Status" in line:
            in_table, header_seen = True, False
            continue
        if in_table and re.fullmatch(r"\|[-:\s|]+\|", line):
            header_seen = True
            continue
        if in_table and header_seen and line.startswith("|"):
            cells = table_cells(line)
            found = re.search(r"([0-9]{4})", cells[0]) if len(cells) >= 3 else None
            if found:
                status_cell, gate = cells[2], cells[3] if len(cells) > 3 else ""
                phases.append({"number": found.group(1), "name": cells[1], "status": roadmap_status(status_cell),
                               "hasUserGate": "USER GATE" in gate.upper() or "USER GATE" in status_cell.upper(),
                               "verificationGate": gate or None, "line": index + 1})  # fmt: skip
            continue
        if in_table and header_seen and not line.startswith("|") and trim(line) != "":
            in_table = header_seen = False
    return phases


def read_roadmap(root: Path) -> list[dict[str, Any]]:
    path = root / "ROADMAP.md"
    if not path.exists():
        raise not_found("ROADMAP.md", f"No roadmap file found at {path}")
    return parse_roadmap(read(path))


def roadmap_phase(phases: list[dict[str, Any]], number: Any) -> dict[str, Any] | None:
    return next((p for p in phases if p["number"] == number), None)


def update_roadmap_status(root: Path, number: str, status: str) -> bool:
    """updatePhaseStatus: the first `|` line whose first cell holds the number, re-emitted `| a | b | c |`."""
    path = root / "ROADMAP.md"
    if not path.exists():
        raise not_found("ROADMAP.md", f"No roadmap file found at {path}")
    lines = read(path).split("\n")
    for index, line in enumerate(lines):
        if line.startswith("|") and number in line:
            cells = table_cells(line)
            if len(cells) >= 3 and number in cells[0]:
                cells[2] = ROADMAP_STATUS_TEXT[status]
                lines[index] = "| " + " | ".join(cells) + " |"
                atomic_write(path, "\n".join(lines))
                return True
    return False


def insert_roadmap_row(root: Path, number: str, name: str, status: str, gate: str | None) -> int:
    """insertPhaseRow: after the last row holding the number's first three digits, else at the table's end;
    the new row's line number, or -1 when there is no table."""
    path = root / "ROADMAP.md"
    if not path.exists():
        raise not_found("ROADMAP.md", f"No roadmap file found at {path}")
    lines = read(path).split("\n")
    start = end = after = -1
    for index, line in enumerate(lines):
        if "| Phase |" in line and "| Status |" in line:
            start = index
            continue
        if start != -1 and line.startswith("**Legend**"):
            end = index
            break
        if start != -1 and line.startswith("|") and number[:3] in line:
            after = index
    if after == -1 and end != -1:
        after = next((i for i in range(end - 1, start - 1, -1) if lines[i].startswith("|")), -1)
    if after == -1:
        return -1
    lines.insert(after + 1, f"| {number} | {name} | {ROADMAP_STATUS_TEXT[status]} | {gate or ''} |")
    atomic_write(path, "\n".join(lines))
    return after + 2


def phase_slug(name: str) -> str:
    slug = re.sub(r"\s+", "-", name.lower())
    slug = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "", slug))
    return re.sub(r"^-|-$", "", slug)


def create_phase_file(root: Path, number: str, name: str, gate: str | None, status: str | None = None) -> Path | None:
    slug = phase_slug(name)
    path = root / ".specify" / "phases" / f"{number}-{slug}.md"
    if path.exists():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    display = " ".join(w[:1].upper() + w[1:] for w in slug.split("-"))
    day = today()
    path.write_text(f"""---
phase: {number}
name: {slug}
status: {status or "not_started"}
created: {day}
updated: {day}
---

# Phase {number}: {display}

**Goal**: [Describe the goal of this phase]

**Scope**:
- [Define scope items]

**Deliverables**:
- [ ] [Deliverable 1]

**Verification Gate**: {gate if gate is not None else "[Define success criteria]"}

**Estimated Complexity**: [Low/Medium/High]
""", **TEXT)
    return path


# --------------------------------------------------------------------------- tasks.md (lib/tasks.ts)
TASK_LINE = re.compile(rf"^-\s*\[[xX ~\-bB]\]\s*([^{LINE_END}]+)$")
TASK_ID = re.compile(r"\bT[0-9]{3}[a-z]?\b", re.ASCII)
PHASE_HEADING = re.compile(rf"^##\s+Phase\s+([0-9]+)[:\-]\s*([^{LINE_END}]+)", re.I)
HEADING = re.compile(rf"^##\s+([^{LINE_END}]+)")
DEPENDS = re.compile(r"(?:depends on|after|requires)\s+([T0-9,\s]+)", re.I)
BLOCKED_REASON = re.compile(r"[\[(]blocked:\s*([^\])]+)[\])]", re.I)


def checkbox(line: str) -> str | None:
    trimmed = trim(line)
    for boxes, status in ((("- [x]", "- [X]"), "done"), (("- [ ]",), "todo"), (("- [b]", "- [B]"), "blocked"),
                          (("- [~]", "- [-]"), "deferred")):
        if trimmed.startswith(boxes):
            return status
    return None  # fmt: skip


def parse_task_line(line: str, number: int) -> dict[str, Any] | None:
    status = checkbox(line)
    found = TASK_LINE.match(line) if status else None
    if found is None:
        return None
    full = trim(found.group(1))
    task_id = TASK_ID.search(full)
    if task_id is None:
        return None
    description = trim(re.sub(r"^\s*T[0-9]{3}[a-z]?\s*", "", full, count=1))
    deps: list[str] = []
    for dep in DEPENDS.finditer(description):
        deps += [d for d in re.findall(r"T[0-9]{3}[a-z]?", dep.group(1)) if d not in deps]
    story = re.search(r"\[US([0-9]+)\]", description)
    reason = BLOCKED_REASON.search(description) if status == "blocked" else None
    return {"id": task_id.group(0), "description": description, "status": status,
            "userStory": f"US{story.group(1)}" if story else None, "isParallel": "[P]" in description,
            "isVerification": "[V]" in description, "dependencies": deps,
            "blockedReason": trim(reason.group(1)) if reason else None, "line": number,
            "section": None, "phase": None}  # fmt: skip


def parse_tasks(content: str, path: Path) -> dict[str, Any]:
    """parseTasksContent: the tasks, the `##` sections and the progress."""
    sections: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    section: dict[str, Any] | None = None
    title = None
    for index, line in enumerate(content.split("\n")):
        if not title and line.startswith("# "):
            title = trim(line[2:])
            continue
        heading = PHASE_HEADING.match(line)
        header = ({"name": trim(heading.group(2)), "phase": heading.group(1)} if heading else
                  {"name": trim(h.group(1)), "phase": None} if (h := HEADING.match(line)) else None)  # fmt: skip
        if header:
            if section:
                sections.append(section)
            section = {**header, "tasks": []}
            continue
        if section and re.match(rf"^\*\*Purpose\*\*:\s*[^{LINE_END}]", line):
            continue
        task = parse_task_line(line, index + 1)
        if task:
            if section:
                task["section"], task["phase"] = section["name"], section["phase"]
                section["tasks"].append(task)
            tasks.append(task)
    if section:
        sections.append(section)
    for each in sections:
        each["isComplete"] = all(t["status"] == "done" for t in each["tasks"])
    total = len(tasks)
    done = sum(1 for t in tasks if t["status"] == "done")
    return {"filePath": path, "sections": sections, "tasks": tasks,
            "progress": {"total": total, "completed": done,
                         "blocked": sum(1 for t in tasks if t["status"] == "blocked"),
                         "deferred": sum(1 for t in tasks if t["status"] == "deferred"),
                         "percentage": js_round(done / total * 100) if total else 0}}  # fmt: skip


def read_tasks(where: Path) -> dict[str, Any]:
    """readTasks of a feature directory (or of a tasks.md path)."""
    path = where if where.name.endswith(".md") else where / "tasks.md"
    if not path.exists():
        raise not_found("tasks.md", f"No tasks file found at {path}")
    return parse_tasks(read(path), path)


def task_by_id(data: dict[str, Any], task_id: str) -> dict[str, Any] | None:
    return next((t for t in data["tasks"] if t["id"] == task_id), None)


def deps_met(data: dict[str, Any], task: dict[str, Any]) -> bool:
    return all((task_by_id(data, d) or {}).get("status") == "done" for d in task["dependencies"])


def find_next_task(data: dict[str, Any]) -> dict[str, Any] | None:
    for section in data["sections"]:
        for task in section["tasks"]:
            if task["status"] == "todo" and deps_met(data, task):
                found: dict[str, Any] = task
                return found
    return None


# --------------------------------------------------------------------------- feature directories (lib/context.ts)
def active_feature_dir(specs: Path, state: dict[str, Any] | None) -> Path | None:
    phase = ((state or {}).get("orchestration") or {}).get("phase") or {}
    number, name = phase.get("number"), phase.get("name")
    if number and name:
        if (specs / f"{number}-{name}").exists():
            return specs / f"{number}-{name}"
        if specs.exists():
            match = next((n for n in listdir(specs) if (specs / n).is_dir() and n.startswith(f"{number}-")), None)
            if match:
                return specs / match
    if specs.exists():
        dirs = [n for n in listdir(specs) if (specs / n).is_dir() and re.match(r"^[0-9]{4}-", n)]
        if dirs:
            return specs / max(dirs, key=locale_key)
    return None


def resolve_feature_dir(root: Path) -> Path | None:
    specs = root / "specs"
    if not specs.exists():
        return None
    return active_feature_dir(specs, try_read_state(root))


def artifacts_of(feature: Path) -> dict[str, bool]:
    return {"discovery": (feature / "discovery.md").exists(), "spec": (feature / "spec.md").exists(),
            "requirements": (feature / "requirements.md").exists(), "uiDesign": (feature / "ui-design.md").exists(),
            "plan": (feature / "plan.md").exists(), "tasks": (feature / "tasks.md").exists()}  # fmt: skip


def active_artifacts(root: Path) -> dict[str, bool] | None:
    """getProjectContext(root).activeFeature.artifacts."""
    feature = active_feature_dir(root / "specs", try_read_state(root))
    return artifacts_of(feature) if feature is not None and feature.exists() else None


def missing_artifacts(artifacts: dict[str, bool]) -> list[str]:
    return [f"{k}.md" for k in ("discovery", "spec", "plan", "tasks") if not artifacts[k]]


def feature_specs_dir(root: Path, number: str) -> Path | None:
    specs = root / "specs"
    if not specs.exists():
        return None
    match = next((n for n in listdir(specs) if (specs / n).is_dir() and n.startswith(f"{number}-")), None)
    return specs / match if match else None


# --------------------------------------------------------------------------- health (lib/health.ts)
def current_branch(root: Path) -> str | None:
    """`git branch --show-current` in the project: the branch, "" when detached, None outside git."""
    for directory in (root, *root.parents):
        marker = directory / ".git"
        if marker.is_file():
            found = re.match(r"gitdir:\s*(.+)", read(marker).strip())
            git_dir = (directory / found.group(1)).resolve() if found else None
        elif marker.is_dir():
            git_dir = marker
        else:
            continue
        try:
            head = read(git_dir / "HEAD").strip() if git_dir else ""
        except OSError:
            return None
        return head[len("ref: refs/heads/"):] if head.startswith("ref: refs/heads/") else ""
    return None


def issue(code: str, severity: str, message: str, fix: str | None = None, fixable: bool = False) -> dict[str, Any]:
    return {"code": code, "severity": severity, "message": message, "fix": fix if fix else UNDEF,
            "autoFixable": fixable}  # fmt: skip


def health_issues(root: Path | None) -> list[dict[str, Any]]:
    if root is None:
        return [issue("NO_PROJECT", "error", "Not in a SpecFlow project directory",
                      'Navigate to a SpecFlow project or run "/flow.init" to initialize')]  # fmt: skip
    if not state_path(root).exists():
        return [issue("NO_STATE", "error", "No state file found", 'Run "specflow init" to initialize the project')]
    try:
        state = read_state(root)
    except SpecflowError:
        data, error, zod = read_raw(root)
        if zod:
            found = [issue("STATE_SCHEMA_ERROR", "error", ".".join(map(str, p)) + ": " + m,
                           'Run "specflow check --fix" to attempt auto-repair', True) for p, m in zod[:5]]  # fmt: skip
            if len(zod) > 5:
                found.append(issue("STATE_SCHEMA_ERROR", "error", f"... and {len(zod) - 5} more validation errors"))
            return found
        return [issue("STATE_INVALID", "error", error or "State file is corrupted or invalid",
                      'Run "specflow state reset" to reset state, or manually repair '
                      ".specflow/orchestration-state.json")]  # fmt: skip
    issues: list[dict[str, Any]] = []
    orch = state.get("orchestration") or {}
    phase, step = orch.get("phase") or {}, orch.get("step") or {}
    if state.get("schema_version") != "3.0":
        issues.append(issue("SCHEMA_VERSION_OUTDATED", "error",
                            f'schema_version is "{state.get("schema_version")}", expected "3.0"',
                            'Run "specflow check --fix" to update schema version', True))  # fmt: skip
    index, current = step.get("index"), step.get("current")
    if current and isinstance(index, int | float) and not isinstance(index, bool):
        expected = STEP_INDEX.get(current)
        if expected is not None and index != expected:
            issues.append(issue("STEP_INDEX_MISMATCH", "warning",
                                f'step.index is {js_number(index)} but step.current is "{current}" '
                                f"(expected index {expected})", 'Run "specflow check --fix" to correct index', True))  # fmt: skip
    if (root / ".specify" / "orchestration-state.json").exists():
        issues.append(issue("STATE_WRONG_LOCATION", "warning",
                            "State file found in .specify/ (should only be in .specflow/)",
                            'Run "specflow check --fix" to remove duplicate, or manually delete '
                            ".specify/orchestration-state.json", True))  # fmt: skip
    if not (root / "BACKLOG.md").exists():
        issues.append(issue("NO_BACKLOG", "info", "No BACKLOG.md found",
                            'Run "specflow check --fix" to create BACKLOG.md template', True))  # fmt: skip
    if not (root / ".specify" / "history" / "HISTORY.md").exists():
        issues.append(issue("NO_HISTORY", "info", "No .specify/history/HISTORY.md found",
                            'Run "specflow check --fix" to create HISTORY.md template', True))  # fmt: skip
    specs = root / "specs"
    if specs.exists():
        folders = [n for n in listdir(specs) if (specs / n).is_dir()]
        abc = [n for n in folders if re.match(r"^[0-9]{3}-", n)]
        if abc:
            issues.append(issue("ABC_NAMING_FOUND", "warning",
                                f"Found {len(abc)} phase folder(s) with old ABC naming: {', '.join(abc[:3])}"
                                + ("..." if len(abc) > 3 else ""),
                                "Rename folders from ABC (001-name) to ABBC (0010-name) format"))  # fmt: skip
        history = (state.get("actions") or {}).get("history")
        if history:
            done = [h.get("phase_number") for h in history if h.get("type") == "phase_completed" and h.get("phase_number")]
            unarchived = [n for n in folders if (m := re.match(r"^([0-9]{3,4})-", n))
                          and (m.group(1).rjust(4, "0") in done or m.group(1) in done)]  # fmt: skip
            if unarchived:
                issues.append(issue("COMPLETED_PHASE_NOT_ARCHIVED", "warning",
                                    f"Found {len(unarchived)} completed phase(s) still in specs/: "
                                    f"{', '.join(unarchived[:3])}" + ("..." if len(unarchived) > 3 else ""),
                                    'Move completed phases to .specify/archive/ with "specflow phase archive <number>"'))  # fmt: skip
    roadmap = root / "ROADMAP.md"
    if not roadmap.exists():
        issues.append(issue("NO_ROADMAP", "warning", "No ROADMAP.md found", "Create ROADMAP.md with phase definitions"))
    if not (root / ".specify" / "memory").exists():
        issues.append(issue("NO_MEMORY", "info", "No memory directory found", 'Run "/flow.init" to set up memory documents'))
    templates, system = root / ".specify" / "templates", specflow_home() / "templates"
    if not templates.exists():
        issues.append(issue("NO_TEMPLATES", "warning", "No templates directory found",
                            'Run "specflow check --fix" to copy templates from system install', True)
                      if system.exists() else
                      issue("NO_TEMPLATES", "warning", "No templates directory found (system templates also missing)",
                            "Reinstall SpecFlow with: ./install.sh"))  # fmt: skip
    else:
        gone = [t for t in ("spec-template.md", "plan-template.md", "tasks-template.md") if not (templates / t).exists()]
        if gone and system.exists():
            issues.append(issue("MISSING_TEMPLATES", "warning", f"Missing templates: {', '.join(gone)}",
                                'Run "specflow check --fix" to copy missing templates', True))  # fmt: skip
    if (root / ".specify" / "issues").exists():
        issues.append(issue("DEPRECATED_ISSUES_DIR", "warning",
                            "Deprecated .specify/issues/ directory found (removed in v3.0)",
                            "Remove with: rm -rf .specify/issues/"))  # fmt: skip
    manifest = root / ".specflow" / "manifest.json"
    if manifest.exists():
        try:
            data = js_parse(read(manifest))
            minimum = ((data.get("compatibility") or {}) if isinstance(data, dict) else {}).get("min_cli")
            if not isinstance(data, dict):
                issues.append(issue("MANIFEST_INVALID", "warning",
                                    f"Invalid manifest.json structure: Expected object, received {received(data)}",
                                    'Run "/flow.init" to regenerate manifest'))  # fmt: skip
            elif isinstance(minimum, str) and minimum and semver(VERSION) < semver(minimum):
                issues.append(issue("CLI_VERSION_MISMATCH", "error",
                                    f"Project requires CLI v{minimum}+ but running v{VERSION}",
                                    "Update SpecFlow CLI: curl -fsSL https://specflow.dev/install.sh | bash"))  # fmt: skip
        except (ValueError, OSError):
            issues.append(issue("MANIFEST_INVALID", "warning", "Cannot read or parse .specflow/manifest.json",
                                'Run "/flow.init" to regenerate manifest'))  # fmt: skip
    if phase.get("number") and roadmap.exists():
        row = roadmap_phase(parse_roadmap(read(roadmap)), phase["number"])
        if row is None:
            issues.append(issue("PHASE_NOT_IN_ROADMAP", "warning",
                                f"State references phase {phase['number']} but it's not in ROADMAP.md",
                                'Add phase to ROADMAP.md or update state with "specflow state set"'))  # fmt: skip
        elif phase.get("status") == "in_progress" and row["status"] == "complete":
            issues.append(issue("STATE_ROADMAP_DRIFT", "warning", "State shows phase in progress but ROADMAP shows complete",
                                'Run "specflow phase close" to close completed phase'))  # fmt: skip
    if phase.get("branch"):
        branch = current_branch(root)
        if branch and branch != phase["branch"]:
            issues.append(issue("ON_MAIN_BRANCH", "info", f"On {branch} but state expects {phase['branch']}",
                                'If phase was merged, run "specflow phase open <next>" to start next phase')
                          if branch in ("main", "master") else
                          issue("BRANCH_MISMATCH", "warning",
                                f'Current branch "{branch}" doesn\'t match state "{phase["branch"]}"',
                                f'Run "git checkout {phase["branch"]}" to switch branches'))  # fmt: skip
    if phase.get("number"):
        artifacts = active_artifacts(root)
        if artifacts is not None:
            missing = missing_artifacts(artifacts)
            if (js_parse_int(step.get("index") or 0) or 0) > 0 and missing:
                issues.append(issue("MISSING_ARTIFACTS", "warning", f"Missing design artifacts: {', '.join(missing)}",
                                    'Run "/flow.design" to generate missing artifacts'))  # fmt: skip
            feature = resolve_feature_dir(root) if artifacts["tasks"] else None
            if feature is not None:
                try:
                    if not read_tasks(feature)["tasks"]:
                        issues.append(issue("TASKS_FORMAT_ERROR", "warning",
                                            "tasks.md exists but no tasks found (likely format issue)",
                                            "Expected format: '- [ ] T001 Description'. Task ID must be inline with "
                                            "checkbox. Run '/flow.design --tasks' to regenerate with correct format."))  # fmt: skip
                except SpecflowError:
                    pass
    if step.get("status") in ("blocked", "failed"):
        issues.append(issue("STEP_BLOCKED", "warning", f"Current step is {step['status']}",
                            'Review blockers and retry, or skip with "specflow state set '
                            'orchestration.step.status=in_progress"'))  # fmt: skip
    return issues


def semver(text: str) -> tuple[int, ...]:
    parts = [js_to_number(p) for p in text.split(".")][:3]
    return tuple(int(p) if isinstance(p, int | float) and math.isfinite(p) else 0 for p in parts + [0] * (3 - len(parts)))


def health_check(root: Path | None) -> dict[str, Any]:
    issues = health_issues(root)
    severities = {i["severity"] for i in issues}
    status = "error" if "error" in severities else "warning" if "warning" in severities else "ready"
    return {"status": status, "issues": issues}


# --------------------------------------------------------------------------- status
def get_status() -> dict[str, Any]:
    empty_context = {"featureDir": None, "hasSpec": False, "hasPlan": False, "hasTasks": False}
    nothing = {"phase": {"number": None, "name": None, "branch": None, "status": None, "hasUserGate": False},
               "step": {"current": None, "index": 0, "status": None},
               "progress": {"tasksCompleted": 0, "tasksTotal": 0, "tasksBlocked": 0, "percentage": 0}}  # fmt: skip
    root = find_project_root()
    if root is None:
        return {**nothing, "health": {"status": "error", "issues": [
                    {"code": "NO_PROJECT", "severity": "error", "message": "Not in a SpecFlow project"}]},
                "nextAction": "fix_health", "blockers": ["Not in a SpecFlow project directory"],
                "context": empty_context}  # fmt: skip
    state = try_read_state(root)
    if state is None:
        return {**nothing, "health": {"status": "error", "issues": [
                    {"code": "NO_STATE", "severity": "error", "message": "No state file found"}]},
                "nextAction": "fix_health", "blockers": ['No state file - run "specflow state init"'],
                "context": empty_context}  # fmt: skip
    orch = state.get("orchestration") or {}
    phase, step = orch.get("phase") or {}, orch.get("step") or {}
    number, status = phase.get("number"), phase.get("status")
    gate = False
    try:
        row = roadmap_phase(read_roadmap(root), number) if number else None
        gate = bool(row and row["hasUserGate"])
    except SpecflowError:
        pass
    index = js_parse_int(step["index"] if step.get("index") is not None else 0)
    done = total = blocked = 0
    feature: Path | None = None
    has = {"spec": False, "plan": False, "tasks": False}
    if number and status and status != "not_started":
        feature = resolve_feature_dir(root)
        if feature is not None:
            artifacts = active_artifacts(root)
            if artifacts is not None:
                has = {k: artifacts[k] for k in has}
            if has["tasks"]:
                try:
                    progress = read_tasks(feature)["progress"]
                    done, total, blocked = progress["completed"], progress["total"], progress["blocked"]
                except SpecflowError:
                    pass
    health = health_check(root)
    blockers = ["Current step is blocked"] if step.get("status") == "blocked" else []
    blockers += ["Current step failed"] if step.get("status") == "failed" else []
    blockers += [i["message"] for i in health["issues"] if i["severity"] == "error"]
    current = step.get("current") or "design"
    if health["status"] == "error":
        action = "fix_health"
    elif not status or status == "not_started":
        action = "start_phase"
    elif status == "awaiting_user_gate":
        action = "awaiting_user_gate"
    elif status == "complete":
        action = "archive_phase"
    elif current == "design":
        action = "run_analyze" if all(has.values()) else "run_design"
    elif current == "analyze":
        action = "run_analyze"
    elif current == "implement":
        action = "run_verify" if total > 0 and done == total else "continue_implement"
    elif current == "verify":
        action = "awaiting_user_gate" if gate else "ready_to_merge"
    else:
        action = "continue_implement"
    return {
        "phase": {"number": number, "name": phase.get("name"), "branch": phase.get("branch"), "status": status,
                  "hasUserGate": gate},
        "step": {"current": step.get("current"), "index": index, "status": step.get("status")},
        "progress": {"tasksCompleted": done, "tasksTotal": total, "tasksBlocked": blocked,
                     "percentage": js_round(done / total * 100) if total else 0},
        "health": {"status": health["status"],
                   "issues": [{k: i[k] for k in ("code", "severity", "message")} for i in health["issues"]]},
        "nextAction": action,
        "blockers": blockers,
        "context": {"featureDir": str(feature) if feature else None, "hasSpec": has["spec"], "hasPlan": has["plan"],
                    "hasTasks": has["tasks"]},
    }  # fmt: skip


STATUS_WORDS = {"start_phase": "Start next phase", "run_design": "Run /flow.design to create artifacts",
                "run_analyze": "Run /flow.analyze to validate", "continue_implement": "Continue implementing tasks",
                "run_verify": "Run /flow.verify to complete", "ready_to_merge": "Ready for /flow.merge",
                "fix_health": "Fix health issues first", "awaiting_user_gate": "Awaiting user verification",
                "archive_phase": "Archive completed phase"}  # fmt: skip


def cmd_status(opts: dict[str, Any]) -> int:
    status = get_status()
    phase, progress = status["phase"], status["progress"]
    lines = ([f"Phase {phase['number']}: {phase['name'] or 'Unknown'}",
              f"Status: {phase['status'] or 'unknown'} | Step: {status['step']['current'] or 'none'}"]
             if phase["number"] else ["No active phase"])  # fmt: skip
    if progress["tasksTotal"] > 0:
        lines.append(f"Tasks: {progress['tasksCompleted']}/{progress['tasksTotal']} ({progress['percentage']}%)")
    lines.append(f"Next: {STATUS_WORDS[status['nextAction']]}")
    output(status, "\n".join(lines))
    return 0


# --------------------------------------------------------------------------- next
def files_mentioned(description: str) -> list[str]:
    text = description[:4096]
    files: list[str] = []
    for pattern in (r"\bsrc/[\w\-./]+\.\w+", r"\btests?/[\w\-./]+\.\w+", r"\blib/[\w\-./]+\.\w+"):
        files += [m.group(0) for m in re.finditer(pattern, text, re.ASCII)]
    for found in re.finditer(r"\b[\w\-./]+\.(ts|js|md|json|tsx|jsx)\b", text, re.ASCII):
        if found.group(0) not in files and "/" in found.group(0):
            files.append(found.group(0))
    return list(dict.fromkeys(files))


def compact(obj: dict[str, Any]) -> dict[str, Any]:
    """What JSON.stringify leaves of an object with undefined members."""
    return {k: v for k, v in obj.items() if v is not UNDEF}


def next_task_output(data: dict[str, Any]) -> dict[str, Any]:
    task = find_next_task(data)
    if task is None:
        if not data["tasks"]:
            return {"action": "none", "reason": "no_tasks_found",
                    "suggestion": "No tasks found in tasks.md. Expected format: '- [ ] T001 Description'. "
                                  "Task ID must be inline with checkbox, not as a header. See tasks-template.md "
                                  "for examples."}  # fmt: skip
        if all(t["status"] == "done" for t in data["tasks"]):
            return {"action": "none", "reason": "all_tasks_complete",
                    "suggestion": "Run 'specflow check' to verify completion, then proceed to verification step"}
        return {"action": "none", "reason": "all_tasks_blocked",
                "suggestion": "Remaining tasks have unmet dependencies. Review blocked tasks."}
    section = task["section"]
    undone = [t for t in data["tasks"] if t["status"] != "done"]
    up_next: list[str] = []
    found = False
    for each in (t for s in data["sections"] for t in s["tasks"]):
        if each["id"] == task["id"]:
            found = True
        elif found and each["status"] == "todo" and len(up_next) < 3:
            up_next.append(each["id"])
    return {
        "action": "implement_task",
        "task": compact({"id": task["id"], "description": task["description"], "section": section or UNDEF,
                         "phase": task["phase"] or UNDEF, "userStory": task["userStory"] or UNDEF,
                         "line": task["line"], "file": str(data["filePath"])}),
        "dependencies": {"met": deps_met(data, task), "requires": task["dependencies"],
                         "blockedBy": [d for d in task["dependencies"]
                                       if (task_by_id(data, d) or {}).get("status") != "done"]},
        "hints": {"filesMentioned": files_mentioned(task["description"])},
        "queue": {"remainingInSection": sum(1 for t in undone if t["section"] == section) if section else 0,
                  "totalRemaining": len(undone), "nextUp": up_next},
    }  # fmt: skip


def cmd_next(opts: dict[str, Any]) -> int:
    root = find_project_root()
    feature = resolve_feature_dir(root) if root else None
    if root is None:
        result: dict[str, Any] = {"action": "none", "reason": "no_project", "suggestion": "Not in a SpecFlow project directory"}
    elif feature is None:
        result = {"action": "none", "reason": "no_feature", "suggestion": "No active feature found. Start a phase first."}
    elif opts["type"] == "verify":
        data = read_tasks(feature)
        todo = [t for t in data["tasks"] if t["isVerification"] and t["status"] == "todo"]
        result = ({"action": "verify_task",
                   "task": compact({"id": todo[0]["id"], "description": todo[0]["description"],
                                    "section": todo[0]["section"] or UNDEF, "line": todo[0]["line"],
                                    "file": str(data["filePath"])}),
                   "queue": {"remaining": len(todo), "nextUp": [t["id"] for t in todo[1:4]]}} if todo else
                  {"action": "none", "reason": "verification_complete",
                   "suggestion": "All verification tasks complete. Ready for '/flow.merge'."})  # fmt: skip
    else:
        result = next_task_output(read_tasks(feature))
    if result["action"] == "none":
        human = f"{result['reason']}: {result['suggestion']}"
    elif result["action"] == "implement_task":
        lines = [f"Next: {result['task']['id']} {result['task']['description']}",
                 f"Section: {result['task'].get('section', 'Unknown')} | Remaining: {result['queue']['totalRemaining']}"]
        if result["hints"]["filesMentioned"]:
            lines.append(f"Files: {', '.join(result['hints']['filesMentioned'])}")
        human = "\n".join(lines)
    else:
        human = (f"Next: {result['task']['id']} {result['task']['description']}\n"
                 f"Type: verification | Remaining: {result['queue']['remaining']}")  # fmt: skip
    output(result, human)
    return 0


# --------------------------------------------------------------------------- mark
def task_ids(items: list[str]) -> tuple[list[str], list[str]]:
    ids: list[str] = []
    legacy: list[str] = []
    for item in items:
        if ".." in item:
            found = re.fullmatch(r"(T[0-9]{3}[a-z]?)\.\.(T[0-9]{3}[a-z]?)", item)
            if found and int(found.group(1)[1:4]) <= int(found.group(2)[1:4]):
                ids += [f"T{n:03d}" for n in range(int(found.group(1)[1:4]), int(found.group(2)[1:4]) + 1)]
        elif re.fullmatch(r"T[0-9]{3}[a-z]?", item):
            ids.append(item)
        elif re.fullmatch(r"[VICD]-[A-Z0-9]+", item, re.I):
            legacy.append(item)
    return list(dict.fromkeys(ids)), list(dict.fromkeys(legacy))


def edit_line(line: str, status: str, reason: str | None) -> str:
    line = re.sub(r"- \[[xXbB]\]", "- [ ]", line, count=1)
    line = re.sub(r"\s*[\[(]blocked:\s*[^\])]+[\])]", "", line, count=1, flags=re.I)
    if status == "complete":
        return line.replace("- [ ]", "- [x]", 1)
    if status == "blocked":
        line = line.replace("- [ ]", "- [b]", 1)
        return f"{line} (blocked: {reason})" if reason else line
    return line


def cmd_mark(opts: dict[str, Any], items: list[str]) -> int:
    ids, legacy = task_ids(items)
    if legacy:
        raise invalid(f"Checklist IDs ({', '.join(legacy)}) are no longer supported",
                      "Use task IDs (T###) with [V] marker instead. See tasks.md for verification tasks.")  # fmt: skip
    if not ids:
        raise invalid("No valid task IDs provided", "Use format: T001, T001..T005")
    root = require_root()
    feature = resolve_feature_dir(root)
    if feature is None:
        raise not_found("Feature", "No active feature found")
    data = read_tasks(feature)
    unknown = [i for i in ids if task_by_id(data, i) is None]
    if unknown:
        raise invalid(f"Unknown task IDs: {', '.join(unknown)}",
                      f"Valid task IDs are: {', '.join(t['id'] for t in data['tasks'])}")  # fmt: skip
    path: Path = data["filePath"]
    blocked = opts["blocked"] or None
    status = "blocked" if blocked else "incomplete" if opts["incomplete"] else "complete"
    content = read(path)
    for task_id in ids:
        content = "\n".join(edit_line(line, status, blocked) if task_id in line else line for line in content.split("\n"))
    path.write_text(content, **TEXT)
    updated = read_tasks(feature)
    progress = updated["progress"]
    result: dict[str, Any] = {"marked": ids, "newStatus": status,
                              "progress": {k: progress[k] for k in ("completed", "total", "percentage")}}  # fmt: skip
    first = task_by_id(updated, ids[0])
    if first and first["section"]:
        mine = [t for t in updated["tasks"] if t["section"] == first["section"]]
        done = sum(1 for t in mine if t["status"] == "done")
        result["sectionStatus"] = {"name": first["section"], "completed": done, "total": len(mine),
                                   "isComplete": done == len(mine)}  # fmt: skip
    result["stepComplete"] = all_done = progress["completed"] == progress["total"]
    following = find_next_task(updated)
    if following:
        result["next"] = {"id": following["id"], "description": following["description"],
                          "dependenciesMet": deps_met(updated, following)}  # fmt: skip
    if opts["evidence"] and status == "complete":
        record_evidence(feature, ids, opts["evidence"])
        result["evidence"] = {"recorded": True, "itemCount": len(ids), "text": opts["evidence"]}
    if all_done:
        result["nextAction"] = "run_verify"
        result["message"] = "All tasks complete! Ready for verification."
    lines = [f"Marked {', '.join(ids)} as {status}",
             f"Progress: {progress['completed']}/{progress['total']} tasks ({progress['percentage']}%)"]
    if result.get("sectionStatus", {}).get("isComplete"):
        lines.append(f'Section "{result["sectionStatus"]["name"]}" complete!')
    if "evidence" in result:
        lines.append(f"Evidence recorded for {len(ids)} item(s)")
    if "next" in result:
        lines.append(f"Next: {result['next']['id']} {result['next']['description']}")
    if "message" in result:
        lines.append(result["message"])
    output(result, "\n".join(lines))
    return 0


def record_evidence(feature: Path, ids: list[str], text: str) -> None:
    path = feature / ".evidence.json"
    try:
        evidence = js_parse(read(path)) if path.exists() else None
    except ValueError:
        evidence = None
    evidence = evidence if isinstance(evidence, dict) else {"version": "1.0", "featureDir": str(feature), "items": {}}
    now = iso_now()
    for item in ids:
        evidence.setdefault("items", {})[item] = compact({"itemId": item, "timestamp": now, "evidence": text,
            "sharedWith": [i for i in ids if i != item] if len(ids) > 1 else UNDEF})  # fmt: skip
    atomic_write(path, js_json(evidence) + "\n")


# --------------------------------------------------------------------------- check
PLACEHOLDER = re.compile(r"\b(TODO|TBD|TKTK|\?\?\?|<placeholder>)\b", re.I | re.ASCII)


def no_feature() -> dict[str, Any]:
    return {"passed": False, "reason": "No active feature", "checks": {"feature_exists": False}}


def gate(passed: bool, reason: str | None, checks: dict[str, bool]) -> dict[str, Any]:
    return compact({"passed": passed, "reason": reason if not passed and reason else UNDEF, "checks": checks})


def check_gates(root: Path, feature: Path | None) -> dict[str, dict[str, Any]]:
    gates: dict[str, dict[str, Any]] = {}
    if feature is None:
        gates["design"] = gates["specify"] = gates["implement"] = gates["verify"] = no_feature()
    else:
        artifacts = active_artifacts(root)
        if artifacts is None:
            gates["design"] = {"passed": False, "reason": "Cannot read feature artifacts",
                               "checks": {"artifacts_readable": False}}  # fmt: skip
        else:
            checks = {"spec_exists": artifacts["spec"], "plan_exists": artifacts["plan"], "tasks_exist": artifacts["tasks"]}
            gates["design"] = gate(all(checks.values()), "Missing design artifacts", checks)
        spec = feature / "spec.md"
        checks = {"spec_exists": spec.exists()}
        if checks["spec_exists"]:
            text = read(spec)
            checks["no_placeholders"] = not PLACEHOLDER.search(text)
            checks["has_goal_coverage"] = bool(re.search(r"\|\s*(Phase\s*)?Goal", text, re.I)
                                               or re.search(r"##\s*(Phase\s*)?Goals?\s*Coverage", text, re.I))  # fmt: skip
            checks["no_missing_goals"] = not re.search(r"\|\s*MISSING\s*\|", text, re.I)
        gates["specify"] = gate(all(checks.values()), "Spec incomplete or missing goal coverage", checks)
        try:
            progress = read_tasks(feature)["progress"]
            checks = {"tasks_complete": progress["completed"] == progress["total"],
                      "no_blocked_tasks": progress["blocked"] == 0}  # fmt: skip
            gates["implement"] = gate(all(checks.values()), f"{progress['total'] - progress['completed']} tasks incomplete"
                                      if not checks["tasks_complete"] else None, checks)  # fmt: skip
        except SpecflowError:
            gates["implement"] = {"passed": False, "reason": "Cannot read tasks", "checks": {"tasks_readable": False}}
        checks = {"implementation_gate": gates["implement"]["passed"], "evidence_present": True}
        try:
            verified = [t["id"] for t in read_tasks(feature)["tasks"] if t["isVerification"] and t["status"] == "done"]
            evidence_file = next((p for p in (feature / ".evidence.json", feature / "checklists" / ".evidence.json")
                                  if p.exists()), None)  # fmt: skip
            if verified and evidence_file is not None:
                items = js_parse(read(evidence_file)).get("items") or {}
                checks["evidence_present"] = all(i in items for i in verified)
        except (SpecflowError, ValueError, AttributeError):
            pass
        gates["verify"] = gate(checks["implementation_gate"], "implementation gate not passed", checks)
    memory = root / ".specify" / "memory"
    if not memory.exists():
        gates["memory"] = {"passed": False, "reason": "No memory directory", "checks": {"memory_dir_exists": False}}
    else:
        checks = {"memory_dir_exists": True, "constitution_exists": (memory / "constitution.md").exists()}
        if checks["constitution_exists"]:
            text = read(memory / "constitution.md")
            checks["no_placeholders"] = not PLACEHOLDER.search(text)
            checks["has_agent_directive"] = bool(re.search(r"^>\s*\*\*Agents?\*\*:", text, re.M))
        checks["has_recommended_docs"] = any((memory / d).exists() for d in ("tech-stack.md", "coding-standards.md"))
        passed = checks["constitution_exists"] and checks.get("no_placeholders") is not False and checks.get(
            "has_agent_directive") is not False  # fmt: skip
        gates["memory"] = gate(passed, "Memory documents need attention", checks)
    return {k: gates[k] for k in ("design", "specify", "implement", "verify", "memory")}


def check_issues(root: Path, feature: Path | None, state: dict[str, Any] | None) -> list[dict[str, Any]]:
    issues = [{"severity": i["severity"], "code": i["code"], "message": i["message"], "fix": i["fix"],
               "autoFixable": i["autoFixable"]} for i in health_issues(root)]  # fmt: skip
    if state and feature:
        step = (state.get("orchestration") or {}).get("step") or {}
        artifacts = active_artifacts(root)
        index = js_parse_int(step["index"] if step.get("index") is not None else 0)
        if index is not None and index >= 2 and artifacts:
            missing = missing_artifacts(artifacts)
            if missing:
                issues.append({"severity": "warning", "code": "STEP_ARTIFACT_MISMATCH",
                               "message": f"In implement step but missing: {', '.join(missing)}",
                               "fix": "Run /flow.design to create missing artifacts, or reset step", "autoFixable": False})  # fmt: skip
        try:
            data = read_tasks(feature)
        except SpecflowError:
            data = None
        if data and data["progress"]["completed"] == data["progress"]["total"] and step.get("current") == "implement":
            issues.append({"severity": "info", "code": "TASKS_COMPLETE_STEP_IMPLEMENT",
                           "message": "All tasks complete but step is still implement",
                           "fix": "Run: specflow state set orchestration.step.current=verify", "autoFixable": True})  # fmt: skip
        if data and (cycle := first_cycle(data)):
            issues.append({"severity": "error", "code": "CIRCULAR_DEPENDENCIES",
                           "message": f"Circular dependencies found: {cycle}", "autoFixable": False})  # fmt: skip
    return [compact(i) for i in issues]


def first_cycle(data: dict[str, Any]) -> str | None:
    cycles: list[str] = []
    visited: set[str] = set()
    stack: set[str] = set()

    def dfs(task_id: str, path: list[str]) -> None:
        if task_id in stack:
            cycles.append(" → ".join([*path[path.index(task_id):], task_id]))
            return
        if task_id in visited:
            return
        visited.add(task_id)
        stack.add(task_id)
        for dep in (task_by_id(data, task_id) or {}).get("dependencies", []):
            dfs(dep, [*path, task_id])
        stack.discard(task_id)

    for task in data["tasks"]:
        if task["id"] not in visited:
            dfs(task["id"], [])
    return cycles[0] if cycles else None


def apply_fixes(root: Path, issues: list[dict[str, Any]]) -> list[dict[str, str]]:
    fixed: list[dict[str, str]] = []
    fixable = [i for i in issues if i["autoFixable"]]
    if any(i["code"] == "STATE_SCHEMA_ERROR" for i in fixable):
        data, _, zod = read_raw(root)
        if isinstance(data, dict) and zod:
            count = 0
            orch = data.get("orchestration") if isinstance(data.get("orchestration"), dict) else None
            step = orch.get("step") if orch and isinstance(orch.get("step"), dict) else None
            phase = orch.get("phase") if orch and isinstance(orch.get("phase"), dict) else None
            if step is not None and isinstance(step.get("index"), str):
                step["index"] = STEP_INDEX.get(step.get("current")) if isinstance(step.get("current"), str) else None
                count += 1
            if step is not None and step.get("current") and step["current"] not in STEP_INDEX:
                step["current"] = None
                count += 1
            if step is not None and step.get("status") and step["status"] not in STEP_STATUSES:
                step["status"] = "not_started"
                count += 1
            if phase is not None and phase.get("status") and phase["status"] not in PHASE_STATUSES:
                phase["status"] = "not_started"
                count += 1
            if data.get("schema_version") != "3.0":
                data["schema_version"] = "3.0"
                count += 1
            if count:
                write_raw_state(data, root)
                fixed.append({"code": "STATE_SCHEMA_ERROR", "action": f"Repaired {count} schema validation issue(s) in state file"})
    for found in fixable:
        code = found["code"]
        try:
            if code == "SCHEMA_VERSION_OUTDATED":
                state = read_state(root)
                state["schema_version"] = "3.0"
                write_state(state, root)
                fixed.append({"code": code, "action": 'Updated schema_version to "3.0"'})
            elif code == "STEP_INDEX_MISMATCH":
                state = read_state(root)
                current = ((state.get("orchestration") or {}).get("step") or {}).get("current")
                if current in STEP_INDEX:
                    write_state(set_value(state, "orchestration.step.index", STEP_INDEX[current]), root)
                    fixed.append({"code": code, "action": f'Corrected step.index to {STEP_INDEX[current]} (for "{current}")'})
            elif code == "STATE_WRONG_LOCATION":
                (root / ".specify" / "orchestration-state.json").unlink()
                fixed.append({"code": code, "action": "Removed duplicate state file from .specify/"})
            elif code == "NO_BACKLOG":
                (root / "BACKLOG.md").write_text(FIX_BACKLOG, **TEXT)
                fixed.append({"code": code, "action": "Created BACKLOG.md template"})
            elif code == "NO_HISTORY":
                (root / ".specify" / "history").mkdir(parents=True, exist_ok=True)
                (root / ".specify" / "history" / "HISTORY.md").write_text(FIX_HISTORY, **TEXT)
                fixed.append({"code": code, "action": "Created .specify/history/HISTORY.md template"})
            elif code == "TASKS_COMPLETE_STEP_IMPLEMENT":
                write_state(set_value(read_state(root), "orchestration.step.current", "verify"), root)
                fixed.append({"code": code, "action": "Updated step to verify"})
            elif code in ("NO_TEMPLATES", "MISSING_TEMPLATES"):
                source, target = specflow_home() / "templates", root / ".specify" / "templates"
                target.mkdir(parents=True, exist_ok=True)
                copied = 0
                for name in listdir(source):
                    if code == "NO_TEMPLATES" or not (target / name).exists():
                        _shutil().copyfile(source / name, target / name)
                        copied += 1
                fixed.append({"code": code, "action": f"Copied {copied} templates to .specify/templates/"})
        except (SpecflowError, OSError):
            pass
    return fixed


FIX_BACKLOG = """# Backlog

> Items deferred for future consideration. Add items during `/flow.verify` or with `specflow phase defer "item"`.

## Deferred Items

<!-- Add deferred items here -->

## Technical Debt

<!-- Add tech debt items here -->

## Future Considerations

<!-- Add future ideas here -->
"""
FIX_HISTORY = """# Phase History

> Summaries of completed phases. Updated automatically by `specflow phase close`.

---

<!-- Completed phase summaries will be added here -->
"""


def suggested_action(issues: list[dict[str, Any]], gates: dict[str, dict[str, Any]]) -> str:
    if any(i["severity"] == "error" for i in issues):
        return "fix_errors"
    if any(i["autoFixable"] for i in issues):
        return "run_check_fix"
    for name, action in (("design", "run_design"), ("specify", "complete_spec"), ("implement", "complete_tasks"),
                         ("verify", "complete_verification")):
        if not gates[name]["passed"]:
            return action
    return "ready_to_merge"  # fmt: skip


def run_check(fix: bool, gate_name: str | None) -> dict[str, Any]:
    root = find_project_root()
    if root is None:
        return {"passed": False, "summary": {"errors": 1, "warnings": 0, "info": 0},
                "gates": {g: {"passed": False, "reason": "No project", "checks": {}}
                          for g in ("design", "specify", "implement", "verify", "memory")},
                "issues": [{"severity": "error", "code": "NO_PROJECT", "message": "Not in a SpecFlow project directory",
                            "autoFixable": False}], "autoFixableCount": 0}  # fmt: skip
    state = try_read_state(root)
    feature = resolve_feature_dir(root)
    gates = check_gates(root, feature)
    if gate_name:
        chosen = gates.get(gate_name) if gate_name in ("design", "specify", "implement", "memory") else gates["verify"]
        assert chosen is not None
        return {"passed": chosen["passed"], "summary": {"errors": 0 if chosen["passed"] else 1, "warnings": 0, "info": 0},
                "gates": gates,
                "issues": [] if chosen["passed"] else [{"severity": "error", "code": f"{gate_name.upper()}_GATE_FAILED",
                                                        "message": chosen.get("reason") or f"{gate_name} gate not passed",
                                                        "autoFixable": False}],
                "autoFixableCount": 0}  # fmt: skip
    issues = check_issues(root, feature, state)
    fixed = apply_fixes(root, issues) if fix else []
    if fixed:
        issues = check_issues(root, feature, state)
    summary = {s: sum(1 for i in issues if i["severity"] == k) for s, k in
               (("errors", "error"), ("warnings", "warning"), ("info", "info"))}  # fmt: skip
    result = {"passed": summary["errors"] == 0 and all(gates[g]["passed"] for g in ("design", "specify", "implement")),
              "summary": summary, "gates": gates, "issues": issues,
              "autoFixableCount": sum(1 for i in issues if i["autoFixable"]),
              "suggestedAction": suggested_action(issues, gates)}  # fmt: skip
    if fixed:
        result["fixed"] = fixed
    return result


def cmd_check(opts: dict[str, Any]) -> int:
    result = run_check(bool(opts["fix"]), opts["gate"])
    mark = {True: "✓", False: "✗"}
    gates = result["gates"]
    lines = ["✓ All checks passed" if result["passed"] else "✗ Checks failed"]
    summary = result["summary"]
    if summary["errors"] > 0 or summary["warnings"] > 0:
        lines.append(f"  Errors: {summary['errors']} | Warnings: {summary['warnings']} | Info: {summary['info']}")
    lines.append(f"Gates: Design {mark[gates['design']['passed']]} | Implement {mark[gates['implement']['passed']]} | "
                 f"Verify {mark[gates['verify']['passed']]} | Memory {mark[gates['memory']['passed']]}")  # fmt: skip
    if result["issues"]:
        lines.append("")
        icons = {"error": "✗", "warning": "⚠"}
        lines += [f"{icons.get(i['severity'], 'ℹ')} {i['message']}" for i in result["issues"][:5]]
        if len(result["issues"]) > 5:
            lines.append(f"  ... and {len(result['issues']) - 5} more")
    if result.get("fixed"):
        lines += ["", "Fixed:", *(f"  ✓ {f['action']}" for f in result["fixed"])]
    if result.get("suggestedAction"):
        lines += ["", f"Next: {result['suggestedAction']}"]
    output(result, "\n".join(lines))
    return 0 if result["passed"] else 1


# --------------------------------------------------------------------------- state
def cmd_state_get(opts: dict[str, Any], key: str | None) -> int:
    state = read_state()
    if not key:
        output(state)
        return 0
    value = get_value(state, key)
    if value is UNDEF:
        emit("(not set)")
    elif value is None or isinstance(value, dict | list):
        output(value)
    else:
        emit(js_string(value))
    return 0


def cmd_state_set(opts: dict[str, Any], pairs: list[str]) -> int:
    result: dict[str, Any] = {"status": "error", "command": "state set", "updates": []}

    def fail(message: str, hint: str) -> int:
        result["error"] = {"message": message, "hint": hint}
        output(result, f"Error: {message}\nHint: {hint}")
        return 1

    parsed: list[tuple[str, Any]] = []
    try:
        for pair in pairs:
            fail_text = os.environ.get("FAKE_SPECFLOW_FAIL")
            if "=" not in pair or (fail_text and fail_text in pair):
                return fail(f'Invalid format for "{pair}". Expected key=value',
                            "Use format: specflow state set orchestration.step.current=implement")  # fmt: skip
            key, text = pair.split("=", 1)
            if not key or len(key) > 256 or not re.fullmatch(
                    r"([a-zA-Z_][a-zA-Z0-9_]*|[0-9]+)(\.([a-zA-Z_][a-zA-Z0-9_]*|[0-9]+))*", key):  # fmt: skip
                return fail("Key cannot be empty" if not key else "Key too long (max 256 characters)" if len(key) > 256
                            else "Key must be dot-separated identifiers (e.g., orchestration.step.current, "
                                 "memory.archive_reviews.0082)", "Use format: orchestration.step.current")  # fmt: skip
            if len(text) > 1024 * 1024:
                raise JsError(f"Value too long: {len(text)} chars exceeds max {1024 * 1024}")
            try:
                value = js_parse(text)
            except ValueError:
                value = text
            parsed.append((key, coerce(key, value)))
        raw = False
        try:
            state: Any = read_state()
        except SpecflowError:
            state, _, _ = read_raw()
            if state is UNDEF or state is None or state is False or state == "" or (
                    isinstance(state, int | float) and state == 0):  # falsy in JavaScript: not read  # fmt: skip
                raise JsError("State file not found or unreadable") from None
            raw = True
            dashboard = ((state.get("orchestration") if isinstance(state, dict) else None) or {})
            dashboard = dashboard.get("dashboard") if isinstance(dashboard, dict) else None
            active = dashboard.get("active") if isinstance(dashboard, dict) else None
            if isinstance(active, dict):
                active["id"] = active.get("id") or uuid4()
                active["startedAt"] = active.get("startedAt") or iso_now()
                active["config"] = active.get("config") or {}
        for key, value in parsed:
            result["updates"].append({"key": key, "value": value, "previousValue": get_value(state, key)})
            state = set_value(state, key, value)
        if raw:
            if isinstance(state, dict):
                state["last_updated"] = iso_now()
            write_raw_state(state)
        else:
            write_state(state)
    except JsError as exc:
        return fail(str(exc), "Check the error message for details")
    result["status"] = "success"
    output(result, "\n".join(f"Set {u['key']} = {js_json(u['value'], None)}" for u in result["updates"]))
    return 0


# --------------------------------------------------------------------------- phase
def cmd_phase_status(opts: dict[str, Any]) -> int:
    root = require_root()
    state = read_state(root)
    phase = (state.get("orchestration") or {}).get("phase") or {}
    upcoming = next((p for p in read_roadmap(root) if p["status"] == "not_started"), None)
    spec_dir = phase_file = None
    has = {"spec": False, "plan": False, "tasks": False}
    if phase.get("number") and phase.get("name"):
        spec_dir = root / "specs" / f"{phase['number']}-{phase_slug(phase['name'])}"
        if spec_dir.exists():
            has = {k: (spec_dir / f"{k}.md").exists() for k in has}
        candidate = root / ".specify" / "phases" / f"{phase['number']}-{phase_slug(phase['name'])}.md"
        phase_file = candidate if candidate.exists() else None
    result: dict[str, Any] = {"phase": {"number": phase.get("number"), "name": phase.get("name"),
                        "status": phase.get("status") or "not_started", "branch": phase.get("branch")},
              "artifacts": {"specDir": str(spec_dir) if spec_dir else None, "phaseFile": str(phase_file) if phase_file else None,
                            "hasSpec": has["spec"], "hasPlan": has["plan"], "hasTasks": has["tasks"]},
              "nextPhase": {"number": upcoming["number"], "name": upcoming["name"]} if upcoming else None}  # fmt: skip
    following = f"Next: Phase {upcoming['number']} ({upcoming['name']})" if upcoming else None
    if not phase.get("number"):
        lines = ["No active phase"]
    else:
        lines = [f"Phase {phase['number']}: {phase.get('name')}", f"Status: {result['phase']['status']}"]
        if phase.get("branch"):
            lines.append(f"Branch: {phase['branch']}")
        made = [k for k in ("spec", "plan", "tasks") if has[k]]
        if made:
            lines.append(f"Artifacts: {', '.join(made)}")
    output(result, "\n".join(lines + ([following] if following else [])))
    return 0


def cmd_phase_open(opts: dict[str, Any], number: str | None) -> int:
    root = require_root()
    hotfix = opts["hotfix"]
    if hotfix is not None and hotfix is not False:
        return open_hotfix(root, hotfix if isinstance(hotfix, str) else None)
    phases = read_roadmap(root)
    if number:
        row = roadmap_phase(phases, number)
        if row is None:
            raise not_found(f"Phase {number}", "Phase not found in ROADMAP.md")
    else:
        row = next((p for p in phases if p["status"] == "not_started"), None)
        if row is None:
            raise invalid("No pending phases",
                          "All phases are complete or in progress. Use --hotfix to create a new phase.")  # fmt: skip
    if row["status"] == "in_progress":
        raise invalid(f"Phase {row['number']} is already in progress", 'Use "specflow phase close" to complete it first')
    branch = f"{row['number']}-{phase_slug(row['name'])}"
    state = start_phase(read_state(root), row["number"], row["name"], branch, row["hasUserGate"], row["verificationGate"])
    write_state(state, root)
    update_roadmap_status(root, row["number"], "in_progress")
    return report_open({"action": "opened", "phase": {"number": row["number"], "name": row["name"], "branch": branch},
                        "isHotfix": False, "message": f"Phase {row['number']} started"})  # fmt: skip


def start_phase(state: dict[str, Any], number: str, name: str, branch: str, gate: bool, criteria: str | None) -> Any:
    for key, value in (("phase.number", number), ("phase.name", name), ("phase.branch", branch),
                       ("phase.status", "in_progress"), ("step.current", "design"), ("step.index", 0),
                       ("step.status", "not_started"), ("phase.hasUserGate", gate)):
        state = set_value(state, f"orchestration.{key}", value)  # fmt: skip
    if criteria:
        state = set_value(state, "orchestration.phase.userGateCriteria", criteria)
    state = set_value(state, "orchestration.steps", {})
    return set_value(state, "orchestration.progress", {"tasks_completed": 0, "tasks_total": 0, "percentage": 0})


def open_hotfix(root: Path, title: str | None) -> int:
    phases = read_roadmap(root)
    completed: list[dict[str, Any] | None] = [p for p in phases if p["status"] == "complete"]
    base_phase = next((p for p in phases if p["status"] == "in_progress"), None) or (completed or [None])[-1]
    number = None
    if base_phase:
        base, slot = base_phase["number"][:3], int(base_phase["number"][3:])
        used = {int(p["number"][3:]) for p in phases if p["number"].startswith(base)}
        number = next((f"{base}{s}" for s in range(slot + 1, 10) if s not in used), None)
    if number is None:
        raise invalid("Cannot create hotfix", "No active or completed phases found, or all hotfix slots are used")
    name = title or f"Hotfix {today().replace('-', '')}"
    if insert_roadmap_row(root, number, name, "in_progress", None) == -1:
        raise invalid("Failed to insert phase", "Could not find Phase Overview table in ROADMAP.md")
    create_phase_file(root, number, name, None, "in_progress")
    branch = f"{number}-{phase_slug(name)}"
    state = start_phase(read_state(root), number, name, branch, False, None)
    write_state(state, root)
    return report_open({"action": "created", "phase": {"number": number, "name": name, "branch": branch},
                        "isHotfix": True, "message": f"Hotfix phase {number} created and started"})  # fmt: skip


def report_open(result: dict[str, Any]) -> int:
    phase = result["phase"]
    lines = ([f"Created hotfix phase {phase['number']}: {phase['name']}", f"Branch: {phase['branch']}", "",
              "Phase added to ROADMAP.md and detail file created."] if result["isHotfix"] else
             [f"Started Phase {phase['number']}: {phase['name']}", f"Branch: {phase['branch']}"])  # fmt: skip
    lines += ["", "Next steps:", "  git checkout -b " + phase["branch"], "  Run /flow.design to create spec artifacts"]
    output(result, "\n".join(lines))
    return 0


def deferred_items(root: Path, number: str, name: str) -> list[dict[str, Any]]:
    checklists = root / "specs" / f"{number}-{phase_slug(name)}" / "checklists"
    items: list[dict[str, Any]] = []
    deferred = checklists / "deferred.md"
    if deferred.exists():
        in_table = False
        for line in read(deferred).split("\n"):
            if "|" in line and "Item" in line and "Source" in line:
                in_table = True
                continue
            if in_table and re.fullmatch(r"\|[-:\s|]+\|", line):
                continue
            if in_table and line.startswith("|") and "---" not in line:
                cells = table_cells(line)
                if len(cells) >= 2 and cells[0] and "[ITEM" not in cells[0]:
                    items.append(compact({"description": cells[0], "source": cells[1],
                                          "reason": cells[2] if len(cells) > 2 and cells[2] else UNDEF,
                                          "targetPhase": cells[3] if len(cells) > 3 and cells[3] else UNDEF}))  # fmt: skip
            if in_table and not line.startswith("|") and trim(line) == "":
                in_table = False
    for source in ("verification", "implementation"):
        path = checklists / f"{source}.md"
        for line in read(path).split("\n") if path.exists() else []:
            found = re.match(rf"^-\s*\[~\]\s*([A-Z]-[0-9]{{3}})\s+([^{LINE_END}]+)$", line)
            if found:
                reason = re.match(r"^(.+?)\s+-\s+(.+)$", found.group(2))
                items.append({"description": f"{found.group(1)} {trim(reason.group(1))}", "source": source,
                              "reason": trim(reason.group(2))} if reason else
                             {"description": f"{found.group(1)} {trim(found.group(2))}", "source": source})  # fmt: skip
    return items


def add_to_backlog(root: Path, items: list[dict[str, Any]], source: str) -> None:
    if not items:
        return
    path = root / "BACKLOG.md"
    content = read(path) if path.exists() else NEW_BACKLOG.format(day=today())
    p2 = content.find("### P2 - Medium Priority")
    if p2 != -1:
        start = content.find("| Item |", p2)
        end = content.find("\n\n", start)
        if start != -1:
            rows = [f"| {i['description']} | Phase {source} | {i.get('reason') or 'Deferred'} | - |" for i in items]
            at = end if end != -1 else len(content)
            content = content[:at] + "\n" + "\n".join(rows) + content[at:]
    path.write_text(content, **TEXT)


NEW_BACKLOG = """# Project Backlog

> Items deferred from phases without a specific target phase assignment.
> Review periodically to schedule into upcoming phases.

**Created**: {day}
**Last Updated**: {day}

---

## Priority Legend

| Priority | Meaning | Criteria |
|----------|---------|----------|
| **P1** | High | Core functionality, significant user value |
| **P2** | Medium | Nice-to-have, quality of life improvements |
| **P3** | Low | Future considerations, can wait indefinitely |

---

## Backlog Items

### P1 - High Priority

| Item | Source | Reason Deferred | Notes |
|------|--------|-----------------|-------|

### P2 - Medium Priority

| Item | Source | Reason Deferred | Notes |
|------|--------|-----------------|-------|

### P3 - Low Priority

| Item | Source | Reason Deferred | Notes |
|------|--------|-----------------|-------|

---

## Scheduling Guidelines

When planning a new phase, review this backlog:

1. **Check P1 items** - Should any be scheduled for the next phase?
2. **Look for synergies** - Do any backlog items align with planned work?
3. **Update target phases** - Move items from Backlog to specific phases as appropriate
4. **Clean up** - Remove completed items, update priorities as project evolves
"""


def archive_to_history(root: Path, number: str, name: str) -> None:
    history = root / ".specify" / "history" / "HISTORY.md"
    phases = root / ".specify" / "phases"
    history.parent.mkdir(parents=True, exist_ok=True)
    phase_file = next((phases / n for n in (listdir(phases) if phases.is_dir() else []) if n.startswith(f"{number}-")), None)
    body = read(phase_file) if phase_file else ""
    day = today()
    if body:
        if body.startswith("---") and (end := body.find("---", 3)) != -1:
            body = trim(body[end + 3:])
        entry = f"## {number} - {name}\n\n**Completed**: {day}\n\n{body}\n\n---\n"
    else:
        entry = f"## {number} - {name}\n\n**Completed**: {day}\n\nPhase completed without detailed phase file.\n\n---\n\n"
    content = read(history) if history.exists() else (
        "# Completed Phases\n\n> Archive of completed development phases. Newest first.\n\n---\n\n")  # fmt: skip
    at = content.find("---\n") + 4
    history.write_text(content[:at] + "\n" + entry + content[at:], **TEXT)
    if phase_file and phase_file.exists():
        phase_file.unlink()


def count_files(directory: Path) -> int:
    return sum(1 if (directory / n).is_file() else count_files(directory / n) if (directory / n).is_dir() else 0
               for n in listdir(directory))  # fmt: skip


def memory_prompts(root: Path, number: str) -> list[str]:
    feature = feature_specs_dir(root, number)
    spec = feature / "spec.md" if feature else None
    if spec is None or not spec.exists():
        return []
    text = read(spec)
    prompts = [prompt for pattern, prompt in (
        (r"## (?:Key )?Decisions?\b", "Review Key Decisions for architecture/patterns memory"),
        (r"## (?:Technical )?Approach", "Review Technical Approach for coding-standards memory"),
        (r"## (?:Lessons? Learned|Retrospective)", "Review Lessons Learned for memory promotion"),
        (r"## (?:API|Interface) Design", "Review API Design for tech-stack memory"),
        (r"## (?:Testing|Test) Strategy", "Review Testing Strategy for testing-strategy memory"),
    ) if re.search(pattern, text, re.I | re.ASCII)]  # fmt: skip
    if "[PROMOTE]" in text or "[MEMORY]" in text:
        prompts.append("Content marked [PROMOTE] or [MEMORY] needs review")
    return prompts


def cmd_phase_close(opts: dict[str, Any]) -> int:
    root = require_root()
    state = read_state(root)
    phase = (state.get("orchestration") or {}).get("phase") or {}
    number, name = phase.get("number"), phase.get("name")
    if not number or not name:
        raise invalid("No active phase", 'Use "specflow phase open" to start a phase first')
    if phase.get("status") == "complete":
        raise invalid(f"Phase {number} is already complete", 'Use "specflow phase open" to start the next phase')
    upcoming = next((p for p in read_roadmap(root) if p["status"] == "not_started" and p["number"] != number), None)
    deferred = deferred_items(root, number, name)
    to_backlog = [i for i in deferred if not i.get("targetPhase") or i.get("targetPhase") == "Backlog"]
    feature = feature_specs_dir(root, number)
    total = completed = 0
    incomplete: list[dict[str, Any]] = []
    if feature and (feature / "tasks.md").exists():
        data = read_tasks(feature / "tasks.md")
        total, completed = data["progress"]["total"], data["progress"]["completed"]
        incomplete = [{"description": f"[{t['id']}] Verify: {t['description'][:80]}"
                                      + ("..." if len(t["description"]) > 80 else ""),
                       "reason": "Blocked" if t["status"] == "blocked" else "Incomplete at close"}
                      for t in data["tasks"] if t["status"] in ("todo", "blocked")]  # fmt: skip
    prompts = memory_prompts(root, number)
    next_phase = {"number": upcoming["number"], "name": upcoming["name"]} if upcoming else None
    deferred_summary = {"count": len(deferred), "withTarget": len(deferred) - len(to_backlog), "toBacklog": len(to_backlog)}
    tasks = {"total": total, "completed": completed, "incomplete": len(incomplete), "promotedToBacklog": len(incomplete)}
    if opts["dryRun"]:
        result = {"action": "dry_run", "phase": {"number": number, "name": name}, "archived": False,
                  "specsCleanup": {"cleaned": False, "filesArchived": count_files(feature) if feature else 0,
                                   "archivePath": None, "skipped": bool(opts["keepSpecs"])},
                  "tasks": tasks, "deferredItems": deferred_summary, "memoryPrompts": prompts, "nextPhase": next_phase,
                  "message": f"Would close Phase {number}"}  # fmt: skip
        output(result, close_text(result))
        return 0
    update_roadmap_status(root, number, "complete")
    archive_to_history(root, number, name)
    add_to_backlog(root, to_backlog, number)
    add_to_backlog(root, incomplete, number)
    cleanup: dict[str, Any] = {"cleaned": False, "filesArchived": 0, "archivePath": None}
    if not opts["keepSpecs"] and feature is not None:
        target = root / ".specify" / "archive" / feature.name
        files = count_files(feature)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            _shutil().copytree(feature, target)
        _shutil().rmtree(feature, ignore_errors=True)
        cleanup = {"cleaned": True, "filesArchived": files, "archivePath": str(target)}
    progress = (state.get("orchestration") or {}).get("progress") or {}
    entry = {"type": "phase_completed", "phase_number": number, "phase_name": name,
             "branch": phase.get("branch", UNDEF), "completed_at": iso_now(),
             "tasks_completed": progress.get("tasks_completed") if progress.get("tasks_completed") is not None else 0,
             "tasks_total": progress.get("tasks_total") if progress.get("tasks_total") is not None else 0}  # fmt: skip
    state = set_value(state, "actions.history", [*((state.get("actions") or {}).get("history") or []), compact(entry)])
    for key, value in (("phase.number", None), ("phase.name", None), ("phase.branch", None),
                       ("phase.status", "not_started"), ("step.current", "design"), ("step.index", 0),
                       ("step.status", "not_started"), ("implement", None), ("next_phase", next_phase)):
        state = set_value(state, f"orchestration.{key}", value)  # fmt: skip
    write_state(state, root)
    result = {"action": "closed", "phase": {"number": number, "name": name}, "archived": True,
              "specsCleanup": {**cleanup, "skipped": bool(opts["keepSpecs"])}, "tasks": tasks,
              "deferredItems": deferred_summary, "memoryPrompts": prompts, "nextPhase": next_phase,
              "message": f"Phase {number} complete"}  # fmt: skip
    output(result, close_text(result))
    return 0


def close_text(result: dict[str, Any]) -> str:
    tasks, deferred, cleanup = result["tasks"], result["deferredItems"], result["specsCleanup"]
    number = result["phase"]["number"]
    if result["action"] == "dry_run":
        lines = ["DRY RUN - Would perform:", f"  1. Update ROADMAP.md: Phase {number} → Complete",
                 "  2. Archive phase to HISTORY.md", "  3. Reset orchestration state"]
        step = 4
        if tasks["total"] > 0:
            lines.append(f"  {step}. Tasks: {tasks['completed']}/{tasks['total']} complete")
            if tasks["incomplete"] > 0:
                lines.append(f"     ⚠ {tasks['incomplete']} incomplete → promote to BACKLOG.md")
            step += 1
        if deferred["count"] > 0:
            lines.append(f"  {step}. Handle {deferred['count']} deferred items:")
            if deferred["withTarget"] > 0:
                lines.append(f"     - {deferred['withTarget']} targeted to future phases")
            if deferred["toBacklog"] > 0:
                lines.append(f"     - {deferred['toBacklog']} added to BACKLOG.md")
            step += 1
        if cleanup["skipped"]:
            lines.append(f"  {step}. Skip specs cleanup (--keep-specs)")
        elif cleanup["filesArchived"] > 0:
            lines.append(f"  {step}. Archive {cleanup['filesArchived']} spec files to .specify/archive/")
        if result["memoryPrompts"]:
            lines += ["", "Memory review suggestions:", *(f"  → {p}" for p in result["memoryPrompts"])]
        return "\n".join([*lines, "", "No changes made."])
    lines = [f"Closing phase {number}...", "✓ Updated ROADMAP.md", "✓ Archived to HISTORY.md", "✓ Reset orchestration state"]
    if tasks["total"] > 0:
        if tasks["incomplete"] > 0:
            lines += [f"⚠ Tasks: {tasks['completed']}/{tasks['total']} complete",
                      f"  → {tasks['promotedToBacklog']} incomplete tasks promoted to BACKLOG.md"]
        else:
            lines.append(f"✓ Tasks: {tasks['completed']}/{tasks['total']} complete")
    if cleanup["skipped"]:
        lines.append("○ Specs kept (--keep-specs)")
    elif cleanup["cleaned"]:
        lines.append(f"✓ Archived {cleanup['filesArchived']} spec files")
    if deferred["count"] > 0:
        lines += ["", f"{deferred['count']} deferred items found:"]
        if deferred["withTarget"] > 0:
            lines.append(f"  → {deferred['withTarget']} targeted to future phases")
        if deferred["toBacklog"] > 0:
            lines.append(f"  → {deferred['toBacklog']} added to BACKLOG.md")
    if result["memoryPrompts"]:
        lines += ["", "Memory review needed:", *(f"  → {p}" for p in result["memoryPrompts"])]
    lines += ["", f"Phase {number} complete."]
    if result["nextPhase"]:
        lines.append(f"Next: Phase {result['nextPhase']['number']} ({result['nextPhase']['name']})")
    return "\n".join(lines)


def cmd_phase_defer(opts: dict[str, Any], items: list[str]) -> int:
    root = require_root()
    if not items:
        raise invalid("No items provided", 'Usage: specflow phase defer "item 1" "item 2"')
    number = ((read_state(root).get("orchestration") or {}).get("phase") or {}).get("number")
    source = f"Phase {number}" if number else "Manual"
    add_to_backlog(root, [{"description": i, "reason": opts["reason"]} for i in items], number or "manual")
    result = {"action": "deferred",
              "items": [compact({"description": i, "source": source, "priority": opts["priority"] or UNDEF}) for i in items],
              "count": len(items), "message": f"{len(items)} item(s) added to BACKLOG.md"}  # fmt: skip
    output(result, "\n".join([f"Added {len(items)} item(s) to BACKLOG.md:", "", *(f"  - {i}" for i in items), "",
                              "View backlog: cat BACKLOG.md"]))  # fmt: skip
    return 0


def cmd_phase_add(opts: dict[str, Any], number: str, name: str) -> int:
    root = require_root("Ensure you are in a SpecFlow project directory")
    if not re.fullmatch(r"[0-9]{4}", number):
        raise invalid(f"Invalid phase number: {number}. Must be 4 digits (e.g., 0010)",
                      "Use a 4-digit number like 0010, 0080, or 1020")  # fmt: skip
    existing = roadmap_phase(read_roadmap(root), number)
    if existing:
        raise invalid(f"Phase {number} already exists: {existing['name']}", "Choose a different phase number")
    gate_text = opts["gate"]
    if opts["userGate"]:
        gate_text = f"**USER GATE**: {gate_text}" if gate_text else "**USER GATE**"
    line = insert_roadmap_row(root, number, name, "not_started", gate_text)
    if line == -1:
        raise state_error("Failed to insert phase into ROADMAP.md table", "Check that ROADMAP.md has a valid phase table")
    detail = create_phase_file(root, number, name, gate_text) if opts["file"] else None
    result = {"success": True,
              "phase": compact({"number": number, "name": name, "status": "not_started",
                                "verificationGate": gate_text if gate_text is not None else UNDEF}),
              "filePath": str(root / "ROADMAP.md"), "line": line,
              "phaseDetailPath": str(detail) if detail else None, "phaseDetailCreated": detail is not None}  # fmt: skip
    lines = [f"Added phase {number}: {name}"]
    if detail:
        lines.append(f"  Phase detail file: {detail}")
    elif opts["file"]:
        lines.append("  Phase detail file already exists")
    output(result, "\n".join(lines))
    return 0


# --------------------------------------------------------------------------- init
INIT_DIRS = [".specify", ".specify/memory", ".specify/memory/pdrs", ".specify/templates", ".specify/phases",
             ".specify/archive", ".specify/history", ".specify/discovery"]  # fmt: skip
INIT_ROADMAP = """# {name} Development Roadmap

> **Source of Truth**: This document defines all feature phases, their order, and completion status.
> Work proceeds through phases sequentially. Each phase produces a deployable increment.

**Project**: {name}
**Created**: {day}
**Schema Version**: 3.0 (ABBC numbering)
**Status**: Active Development

---

## Phase Numbering

Phases use **ABBC** format:

- **A** = Milestone (0-9) - Major version or project stage
- **BB** = Phase (01-99) - Sequential work within milestone
- **C** = Hotfix (0-9) - Insert slot (0 = main phase, 1-9 = hotfixes/inserts)

**Examples**:

- `0010` = Milestone 0, Phase 01, no hotfix
- `0021` = Hotfix 1 inserted after Phase 02
- `1010` = Milestone 1, Phase 01, no hotfix

This allows inserting urgent work without renumbering existing phases.

---

## Phase Overview

| Phase | Name | Status | Verification Gate |
| ----- | ---- | ------ | ----------------- |
| 0010  | Initial Setup | ⬜ Not Started | Project scaffolding complete |

**Legend**: ⬜ Not Started | 🔄 In Progress | ✅ Complete | **USER GATE** = Requires user verification

---

## Phase Details

Phase details are stored in modular files:

| Location                      | Content                      |
| ----------------------------- | ---------------------------- |
| `.specify/phases/*.md`        | Active/pending phase details |
| `.specify/history/HISTORY.md` | Archived completed phases    |

To view a specific phase:

```bash
specflow phase show 0010
```

To list all phases:

```bash
specflow phase list
specflow phase list --active
specflow phase list --complete
```

---

## Phase Sizing Guidelines

Each phase is designed to be:

- **Completable** in a single agentic coding session (~200k tokens)
- **Independently deployable** (no half-finished features)
- **Verifiable** with clear success criteria
- **Building** on previous phases

If a phase is running long:

1. Cut scope to MVP for that phase
2. Document deferred items in BACKLOG.md
3. Prioritize verification gate requirements

---

## How to Use This Document

### Starting a Phase

```
/flow.orchestrate
```

Or manually:

```
/flow.design "Phase NNNN - [Phase Name]"
```

### After Completing a Phase

1. Run `/flow.verify` to verify the phase is complete
2. Run `/flow.merge` to close, push, and merge (updates ROADMAP automatically)
3. If USER GATE: get explicit user verification before proceeding

### Adding New Phases

Use SpecFlow commands:

```bash
specflow phase add 0025 "new-phase-name"
specflow phase add 0025 "new-phase-name" --user-gate --gate "Description"
specflow phase open --hotfix "Urgent Fix"
```
"""
INIT_BACKLOG = """# {name} Backlog

> Items deferred from phases without a specific target phase assignment.
> Review periodically to schedule into upcoming phases.

**Created**: {day}
**Last Updated**: {day}

---

## Priority Legend

| Priority | Meaning | Criteria |
|----------|---------|----------|
| **P1** | High | Core functionality, significant user value |
| **P2** | Medium | Nice-to-have, quality of life improvements |
| **P3** | Low | Future considerations, can wait indefinitely |

---

## Backlog Items

### P1 - High Priority

| Item | Source | Reason Deferred | Notes |
|------|--------|-----------------|-------|
| (none) | - | - | - |

### P2 - Medium Priority

| Item | Source | Reason Deferred | Notes |
|------|--------|-----------------|-------|
| (none) | - | - | - |

### P3 - Low Priority

| Item | Source | Reason Deferred | Notes |
|------|--------|-----------------|-------|
| (none) | - | - | - |

---

## Scheduling Guidelines

When planning a new phase, review this backlog:

1. **Check P1 items** - Should any be scheduled for the next phase?
2. **Look for synergies** - Do any backlog items align with planned work?
3. **Update target phases** - Move items from Backlog to specific phases as appropriate
4. **Clean up** - Remove completed items, update priorities as project evolves

---

## History

| Date | Action | Items Affected |
|------|--------|----------------|
| {day} | Created backlog | Initial setup |
"""
INIT_HISTORY = "# Phase History\n\nThis file contains summaries of completed phases, archived by `specflow phase close`.\n\n---\n\n"
INIT_CONSTITUTION = """# Project Constitution

> **Agents**: This document defines the core principles and governance for this project.
> Review before making architectural decisions.

## Core Principles

1. **[Principle 1]** - Description
2. **[Principle 2]** - Description
3. **[Principle 3]** - Description

## Governance

- All architectural decisions require documentation
- Breaking changes require explicit approval
- Tests must pass before merging

---
*Version: 1.0.0 | Last Amended: {day}*
"""


def create_file(path: Path, text: str) -> bool:
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, **TEXT)
    return True


def register_project(project_id: str, name: str, path: Path) -> None:
    """~/.specflow/registry.json, except for temporary directories (as the CLI skips them)."""
    if any(p in str(path) for p in ("/tmp/", "/private/tmp/", "/private/var/folders/", "/var/folders/",
                                    "specflow-json-test", "vitest")):
        return  # fmt: skip
    registry_path = specflow_home() / "registry.json"
    try:
        registry = js_parse(read(registry_path))
    except (OSError, ValueError):
        registry = {"projects": {}, "config": {"dev_folders": ["~/dev"]}}
    now = iso_now()
    registry.setdefault("projects", {})[project_id] = {"path": str(path), "name": name, "registered_at": now,
                                                       "last_seen": now}  # fmt: skip
    registry_path.parent.mkdir(parents=True, exist_ok=True)
    registry_path.write_text(js_json(registry), **TEXT)


def cmd_init(opts: dict[str, Any]) -> int:
    root = Path.cwd()
    name = opts["name"] if opts["name"] is not None else root.name
    result: dict[str, Any] = {"status": "error", "command": "project init", "project": {"id": "", "name": name, "path": str(root)},
                              "created": {"specflowDir": False, "stateFile": False, "manifestFile": False,
                                          "workflowsDir": False, "specifyDirs": [], "specsDir": False, "roadmap": False,
                                          "backlog": False, "history": False, "constitution": False},
                              "templates": {"copied": [], "skipped": []}, "registered": False, "alreadyInitialized": False}  # fmt: skip
    created = result["created"]
    if state_path(root).exists() and not opts["force"]:
        result["alreadyInitialized"] = True
        result["error"] = {"message": "Project already initialized", "hint": "Use --force to reinitialize"}
        output(result, "⚠ Project already initialized. Use --force to reinitialize.")
        return 1
    try:
        if not (root / ".specflow").exists():
            (root / ".specflow").mkdir(parents=True)
            created["specflowDir"] = True
        state = create_initial_state(name, root)
        result["project"]["id"] = state["project"]["id"]
        write_state(state, root)
        created["stateFile"] = True
        now = iso_now()
        manifest = {"manifest_schema": "1.0", "specflow_version": VERSION,
                    "schema": {"state": "3.0", "roadmap": "3.0", "commands": "3.0"},
                    "compatibility": {"min_cli": VERSION, "created_with": VERSION, "created_at": now}, "migrations": []}  # fmt: skip
        created["manifestFile"] = create_file(root / ".specflow" / "manifest.json", js_json(manifest) + "\n")
        if not (root / ".specflow" / "workflows").exists():
            (root / ".specflow" / "workflows").mkdir(parents=True)
            created["workflowsDir"] = True
        for directory in INIT_DIRS:
            if not (root / directory).exists():
                (root / directory).mkdir(parents=True)
                created["specifyDirs"].append(directory)
        source = next((d for d in (specflow_home() / "templates",
                                   Path(os.environ.get("HOME") or "~").expanduser() / "dev" / "specflow" / "templates")
                       if d.exists()), None)  # fmt: skip
        for template in [n for n in listdir(source) if n.endswith((".md", ".yaml"))] if source else []:
            target = root / ".specify" / "templates" / template
            if target.exists():
                result["templates"]["skipped"].append(template)
            else:
                _shutil().copyfile(source / template, target)  # type: ignore[operator]
                result["templates"]["copied"].append(template)
        day = today()
        created["history"] = create_file(root / ".specify" / "history" / "HISTORY.md", INIT_HISTORY)
        created["constitution"] = create_file(root / ".specify" / "memory" / "constitution.md",
                                              INIT_CONSTITUTION.format(day=day))  # fmt: skip
        created["roadmap"] = create_file(root / "ROADMAP.md", INIT_ROADMAP.format(name=name, day=day))
        created["backlog"] = create_file(root / "BACKLOG.md", INIT_BACKLOG.format(name=name, day=day))
        if not (root / "specs").exists():
            (root / "specs").mkdir(parents=True)
            (root / "specs" / ".gitkeep").write_text("", **TEXT)
            created["specsDir"] = True
        register_project(state["project"]["id"], name, root)
        result["registered"] = True
        result["status"] = "success"
    except OSError as exc:
        result["error"] = {"message": str(exc), "hint": "Check the error message for details"}
        output(result, f"Error: {exc}\nHint: Check the error message for details")
        return 1
    lines = ["✓ Initialized SpecFlow project", "", "Project", f"  Name: {name}", f"  Path: {root}", "", "Created"]
    for flag, label in (("specflowDir", ".specflow/"), ("stateFile", ".specflow/orchestration-state.json"),
                        ("manifestFile", ".specflow/manifest.json"), ("workflowsDir", ".specflow/workflows/")):
        if created[flag]:
            lines.append(f"  ✓ {label}")
    lines += [f"  ✓ {d}" for d in created["specifyDirs"]]
    for flag, label in (("history", ".specify/history/HISTORY.md"), ("constitution", ".specify/memory/constitution.md"),
                        ("roadmap", "ROADMAP.md"), ("backlog", "BACKLOG.md"), ("specsDir", "specs/")):
        if created[flag]:
            lines.append(f"  ✓ {label}")
    if result["templates"]["copied"]:
        lines += ["", "Templates Synced", *(f"  ✓ {t}" for t in result["templates"]["copied"])]
    lines += ["", "✓ Registered in global project registry", "", "Next Steps", "  1. Edit ROADMAP.md to define your phases",
              "  2. Edit .specify/memory/constitution.md with project principles",
              "  3. Run /flow.orchestrate to start your first phase"]  # fmt: skip
    output(result, "\n".join(lines))
    return 0


# --------------------------------------------------------------------------- the command line (commander 12)
class Option:
    def __init__(self, flags: str, default: Any = None) -> None:
        found = re.fullmatch(r"(?:(-\w), )?(--[\w-]+)(?: ([<\[])\w+(\.\.\.)?[>\]])?", flags)
        assert found, flags
        self.flags, self.short, self.long = flags, found.group(1), found.group(2)
        self.kind = {"<": "required", "[": "optional"}.get(found.group(3) or "", "bool")
        self.negate = self.long.startswith("--no-")
        bare = self.long[5:] if self.negate else self.long[2:]
        self.name = re.sub(r"-(\w)", lambda m: m.group(1).upper(), bare)
        self.default = True if self.negate else default


class Command:
    def __init__(self, name: str, arguments: str = "", options: tuple[Option, ...] = (),
                 action: Callable[..., int] | None = None, subcommands: tuple[Command, ...] = ()) -> None:  # fmt: skip
        self.name, self.options, self.action = name, [*options], action
        self.arguments = [(a.strip("<>[]."), a.startswith("<"), a.endswith("...>") or a.endswith("...]"))
                          for a in arguments.split()]  # fmt: skip
        self.subcommands = {c.name: c for c in subcommands}

    def find(self, flag: str) -> Option | None:
        return next((o for o in self.options if flag in (o.short, o.long)), None)


class UsageError(Exception):
    """commander's errors: the message on stderr, exit 1."""


def edit_distance(a: str, b: str) -> int:
    if abs(len(a) - len(b)) > 3:
        return max(len(a), len(b))
    d = [[i] + [0] * len(b) for i in range(len(a) + 1)]
    d[0] = list(range(len(b) + 1))
    for j in range(1, len(b) + 1):
        for i in range(1, len(a) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def suggest(word: str, candidates: list[str]) -> str:
    """commander's suggestSimilar."""
    candidates = list(dict.fromkeys(candidates))
    options = word.startswith("--")
    if options:
        word, candidates = word[2:], [c[2:] for c in candidates]
    similar: list[str] = []
    best = 3
    for candidate in candidates:
        if len(candidate) <= 1:
            continue
        distance = edit_distance(word, candidate)
        length = max(len(word), len(candidate))
        if (length - distance) / length > 0.4:
            if distance < best:
                best, similar = distance, [candidate]
            elif distance == best:
                similar.append(candidate)
    similar = sorted((f"--{s}" if options else s for s in similar), key=locale_key)
    if len(similar) > 1:
        return f"\n(Did you mean one of {', '.join(similar)}?)"
    return f"\n(Did you mean {similar[0]}?)" if similar else ""


def usage(chain: list[Command]) -> str:
    command = chain[-1]
    words = " ".join(c.name for c in chain)
    text = f"Usage: {words} [options]" + (" [command]" if command.subcommands else "")
    text += "".join(f" <{n}{'...' if v else ''}>" if r else f" [{n}{'...' if v else ''}]" for n, r, v in command.arguments)
    lines = [text, "", "Options:", *(f"  {o.flags}" for o in command.options), "  -h, --help"]
    if command.subcommands:
        lines += ["", "Commands:", *(f"  {name}" for name in command.subcommands), "  help [command]"]
    return "\n".join(lines)


def parse_options(command: Command, args: list[str]) -> tuple[dict[str, Any], list[str], list[str]]:
    values = {o.name: o.default for o in command.options}
    operands: list[str] = []
    unknown: list[str] = []
    dest = operands
    queue = list(args)
    while queue:
        arg = queue.pop(0)
        if arg == "--":
            if dest is unknown:
                dest.append(arg)
            dest += queue
            break
        option = command.find(arg) if len(arg) > 1 and arg[0] == "-" else None
        if option is None and len(arg) > 2 and arg[0] == "-" and arg[1] != "-":
            short = command.find(arg[:2])
            if short is not None:
                if short.kind == "required":
                    values[short.name] = arg[2:]
                else:
                    values[short.name] = True
                    queue.insert(0, "-" + arg[2:])
                continue
        if option is None and re.match(r"^--[^=]+=", arg):
            named = command.find(arg[: arg.index("=")])
            if named is not None and named.kind != "bool":
                values[named.name] = arg[arg.index("=") + 1 :]
                continue
        if option is not None:
            if option.kind == "required":
                if not queue:
                    raise UsageError(f"error: option '{option.flags}' argument missing")
                values[option.name] = queue.pop(0)
            elif option.kind == "optional":
                values[option.name] = queue.pop(0) if queue and not (len(queue[0]) > 1 and queue[0][0] == "-") else True
            else:
                values[option.name] = not option.negate
            continue
        if len(arg) > 1 and arg[0] == "-":
            dest = unknown
        dest.append(arg)
    return values, operands, unknown


def run_command(command: Command, args: list[str], chain: list[Command]) -> int:
    chain = [*chain, command]
    values, operands, unknown = parse_options(command, args)
    if command.subcommands and operands and operands[0] in command.subcommands:
        return run_command(command.subcommands[operands[0]], operands[1:] + unknown, chain)
    helps = bool(command.subcommands) and command.action is None  # the implicit `help` command
    if helps and operands and operands[0] == "help":
        target = command.subcommands.get(operands[1]) if len(operands) > 1 else None
        emit(usage([*chain, target] if target else chain))
        return 0
    if command.subcommands and not operands and not unknown and command.action is None:
        emit(usage(chain), sys.stderr)
        return 1
    if any(a in ("-h", "--help") for a in unknown):
        emit(usage(chain))
        return 0
    if command.action is None and operands and command.subcommands:
        raise UsageError(f"error: unknown command '{operands[0]}'" + suggest(operands[0], [*command.subcommands, "help"]))
    if unknown:
        flags = [o.long for c in reversed(chain) for o in [*c.options, Option("--help")]]
        raise UsageError(f"error: unknown option '{unknown[0]}'" + (suggest(unknown[0], flags) if unknown[0].startswith("--") else ""))
    if command.action is None:
        emit(usage(chain), sys.stderr)
        return 1
    positional: list[Any] = []
    for index, (name, required, variadic) in enumerate(command.arguments):
        value: Any = operands[index:] if variadic else operands[index] if index < len(operands) else None
        if required and (value is None or value == []):
            raise UsageError(f"error: missing required argument '{name}'")
        positional.append(value)
    return command.action(values, *positional)


def unimplemented(what: str) -> Callable[..., int]:
    return lambda *_: not_implemented(what)


JSON_OPTION = Option("--json")
PROGRAM = Command("specflow", options=(Option("--version"), Option("--json"), Option("--quiet"), Option("--no-color")),
                  subcommands=(
    Command("state", subcommands=(
        Command("get", "[key]", (JSON_OPTION,), cmd_state_get),
        Command("set", "<keyvalues...>", (), cmd_state_set),
        Command("show", "", (JSON_OPTION,), unimplemented("state show")),
        Command("init", "", (JSON_OPTION, Option("--force")), unimplemented("state init")),
        Command("sync", "", (JSON_OPTION,), unimplemented("state sync")))),
    Command("status", "", (JSON_OPTION,), cmd_status),
    Command("next", "", (JSON_OPTION, Option("--type <type>", "task")), cmd_next),
    Command("mark", "<items...>", (JSON_OPTION, Option("--incomplete"), Option("--blocked <reason>"),
                                   Option("--evidence <text>")), cmd_mark),
    Command("check", "", (JSON_OPTION, Option("--fix"), Option("--gate <gate>")), cmd_check),
    Command("init", "", (Option("--force"), Option("--name <name>")), cmd_init),
    Command("phase", "", (JSON_OPTION,), cmd_phase_status, subcommands=(
        Command("status", "", (JSON_OPTION,), cmd_phase_status),
        Command("open", "[number]", (JSON_OPTION, Option("--hotfix [name]")), cmd_phase_open),
        Command("close", "", (JSON_OPTION, Option("--dry-run"), Option("--keep-specs")), cmd_phase_close),
        Command("defer", "<items...>", (JSON_OPTION, Option("-p, --priority <level>", "P2"),
                                        Option("-r, --reason <reason>")), cmd_phase_defer),
        Command("archive", "<number>", (JSON_OPTION, Option("--dry-run"), Option("--force")), unimplemented("phase archive")),
        Command("scan", "", (JSON_OPTION, Option("--verbose"), Option("--suggest-backlog")), unimplemented("phase scan")),
        Command("add", "<number> <name>", (JSON_OPTION, Option("--gate <text>"), Option("--user-gate"),
                                           Option("--no-file")), cmd_phase_add))),
    Command("project", subcommands=(Command("init", "", (Option("--force"), Option("--name <name>")), cmd_init),)),
    Command("upgrade", "", (), unimplemented("upgrade")),
    Command("workflow", "", (), unimplemented("workflow")),
    Command("templates", "", (), unimplemented("templates")),
))  # fmt: skip


def run_program(args: list[str]) -> int:
    """`node index.js <command> …`: the program's own options are taken wherever they stand (commander without
    positional options), so a command never sees --json itself."""
    rest: list[str] = []
    for index, arg in enumerate(args):
        if arg == "--":
            rest += args[index:]
            break
        if arg == "--json":
            Out.json = True
        elif arg in ("-q", "--quiet"):
            Out.quiet = True
        elif arg in ("-V", "--version"):
            emit(VERSION)
            return 0
        elif arg != "--no-color":
            rest.append(arg)
    try:
        return run_command(PROGRAM.subcommands[rest[0]], rest[1:], [PROGRAM])
    except UsageError as exc:
        emit(str(exc), sys.stderr)
        return 1
    except (SpecflowError, JsError, OSError) as exc:  # node prints any other error as `Error: message`
        return handle_error(exc)


# --------------------------------------------------------------------------- the `specflow` dispatcher (bash)
NODE_COMMANDS = {"status", "next", "mark", "check", "init", "project", "state", "phase", "upgrade", "workflow",
                 "templates"}  # fmt: skip
DEPRECATED = {"scaffold", "context", "ctx", "feature", "feat", "git", "roadmap", "claude-md", "claudemd", "checklist",
              "tasks", "doctor", "detect", "reconcile", "memory", "mem", "lessons", "gate", "migrate", "manifest",
              "import", "pdr", "issue", "dashboard"}  # fmt: skip
SLASH = {"analyze", "specify", "clarify", "plan", "implement", "verify", "orchestrate", "constitution", "start", "design"}
RED, RESET = "\033[0;31m", "\033[0m"
HELP = """specflow - TypeScript CLI for SpecFlow v3.0

USAGE:
    specflow <command> [options]

COMMANDS:
    status      Get complete project status for agent orientation
    next        Get next actionable task with full context
    mark        Mark task(s) complete/incomplete
    check       Deep validation with auto-fix support
    init        Initialize a new SpecFlow project (alias for "project init")
    project     Manage project lifecycle
    state       Manage orchestration state
    phase       Manage phase lifecycle
    workflow    Execute SpecFlow skills via agent provider
    templates   Manage project templates
    help        Show this help message
    version     Show version

(the fake SpecFlow CLI of specflowd's tests)"""


def main(argv: list[str]) -> int:
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(encoding="utf-8")  # as node writes, whatever the locale
    if not argv or argv[0] in ("help", "--help", "-h"):
        emit(HELP)
        return 0
    command = argv[0]
    if command in NODE_COMMANDS:
        return run_program(argv)
    if command in ("version", "--version", "-V"):
        emit(f"specflow version {VERSION}")
        return 0
    if command in DEPRECATED:
        emit(f"{RED}ERROR{RESET}: Command '{command}' is deprecated in SpecFlow v3.0", sys.stderr)
        emit("\n".join(["", "The TypeScript CLI replaces bash scripts with 5 smart commands:",
                        "  specflow status   - Complete project status (replaces: context, doctor, detect)",
                        "  specflow next     - Next task with context (replaces: tasks incomplete)",
                        "  specflow mark     - Mark tasks done (replaces: tasks mark)",
                        "  specflow check    - Validation & auto-fix (replaces: gate, reconcile)",
                        "  specflow state    - State operations (same as before)", "", "Run 'specflow help' for usage."]))  # fmt: skip
        return 1
    emit(f"{RED}ERROR{RESET}: Unknown command: {command}", sys.stderr)
    if command in SLASH:
        emit(f"\n'{command}' is a Claude Code slash command, not a CLI command.\nIn Claude Code, type: /flow.{command}")
    else:
        emit("\nRun 'specflow help' for usage information.")
    return 1


def run() -> int:
    """The program as the ``specflow`` command runs it: ``main`` on the command line, the invocation appended to
    ``FAKE_SPECFLOW_LOG`` when that names a file."""
    code = main(sys.argv[1:])
    if log := os.environ.get("FAKE_SPECFLOW_LOG"):
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd(), "exit": code}) + "\n")
    return code


if __name__ == "__main__":
    sys.exit(run())
