"""One helper call: a tool-use loop on the Messages API ending in a forced, schema-validated answer.

The model may read the project through the read-only tools and must answer by calling ``submit_result``,
whose input schema is the caller's pydantic model. Every turn is priced from its ``usage``; a turn whose
worst case would not fit the remaining budget (per call, and the orchestration's ledger) is never sent.
Failures come back as ``HelperFailure`` values; only programming errors (an unknown tool name) raise.

``anthropic`` costs ~2.7 s to import: it is imported inside ``_open_client``, on the first real call.
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread
from pydantic import BaseModel, ValidationError

from specflowd.adviser.config import HelperConfig
from specflowd.adviser.ledger import HelperLedger
from specflowd.adviser.pricing import DEFAULT_PRICES, PriceTable, TokenUsage
from specflowd.adviser.results import FailureKind, HelperFailure, HelperResult
from specflowd.adviser.retry import ErrorAction, backoff_delay, classify_status, parse_retry_after
from specflowd.adviser.sessions import (
    SessionNotFound,
    continue_messages,
    load_session,
    new_session_id,
    save_session,
)
from specflowd.adviser.tools import READ_ONLY, TOOL_SCHEMAS, ToolError, run_tool

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic
    from anthropic.types import Message as ApiMessage

__all__ = ["SUBMIT_TOOL", "call"]

T = TypeVar("T", bound=BaseModel)

SUBMIT_TOOL = "submit_result"
_CHARS_PER_TOKEN_FLOOR = 3  # conservative: real text runs ~3.5-4 chars per token
_DEFAULT_SYSTEM = (
    "You assist an orchestration daemon for spec-driven development. You may inspect the project with the "
    "read-only tools (Read, Grep, Glob; paths relative to the project root). Be brief and concrete."
)
_SUBMIT_RULE = f"Give your final answer by calling the {SUBMIT_TOOL} tool exactly once, with input matching its schema."


class _Stop(Exception):
    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class _Loop:
    """The mutable state of one call: money, turns, which model of the chain is serving."""

    def __init__(self, models: list[str], budget_usd: float, ledger: HelperLedger | None) -> None:
        self.models = models
        self.model_index = 0
        self.budget_usd = budget_usd
        self.ledger = ledger
        self.spent_usd = 0.0
        self.turns = 0
        self.last_usage: TokenUsage | None = None
        self.model_used: str | None = None

    @property
    def model(self) -> str:
        return self.models[self.model_index]

    def remaining_usd(self) -> float:
        remaining = self.budget_usd - self.spent_usd
        if self.ledger is not None:
            remaining = min(remaining, self.ledger.remaining_usd)
        return remaining


def _assistant_message(response: ApiMessage) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for block in response.content:
        if block.type == "text":
            content.append({"type": "text", "text": block.text})
        elif block.type == "tool_use":
            content.append({"type": "tool_use", "id": block.id, "name": block.name, "input": block.input})
    if not content:
        content.append({"type": "text", "text": "(no content)"})
    return {"role": "assistant", "content": content}


def _usage_of(response: ApiMessage) -> TokenUsage:
    usage = response.usage
    return TokenUsage(
        input_tokens=usage.input_tokens or 0,
        output_tokens=usage.output_tokens or 0,
        cache_creation_input_tokens=usage.cache_creation_input_tokens or 0,
        cache_read_input_tokens=usage.cache_read_input_tokens or 0,
    )


def _estimate_input_tokens(request_chars: int, last_usage: TokenUsage | None, new_chars: int) -> int:
    """Next turn's input: the larger of a chars-based guess and last turn's real input+output plus new text."""
    by_chars = request_chars // _CHARS_PER_TOKEN_FLOOR + 1
    if last_usage is None:
        return by_chars
    by_usage = last_usage.total_input_tokens + last_usage.output_tokens + new_chars // _CHARS_PER_TOKEN_FLOOR + 1
    return max(by_chars, by_usage)


def _open_client(config: HelperConfig, timeout_s: float) -> AsyncAnthropic:
    import anthropic  # lazy: ~2.7 s, paid on the first helper call only

    assert config.api_key is not None
    return anthropic.AsyncAnthropic(
        api_key=config.api_key.get_secret_value(),
        # Explicit, so the SDK never falls back to the process environment behind the config's back.
        base_url=config.base_url or "https://api.anthropic.com",
        max_retries=0,  # retries and fallbacks are ours (see _request)
        timeout=timeout_s,
    )


async def _request(
    client: AsyncAnthropic,
    loop: _Loop,
    config: HelperConfig,
    prices: PriceTable,
    request: dict[str, Any],
    *,
    max_tokens: int,
    new_chars: int,
) -> ApiMessage:
    """One turn: budget check, then the request with retry (429/5xx/connection) and model fallback."""
    import anthropic

    request_chars = len(json.dumps(request, default=str))
    attempt = 0
    while True:
        estimate = _estimate_input_tokens(request_chars, loop.last_usage, new_chars)
        worst = prices.worst_case_turn(loop.model, input_tokens=estimate, max_tokens=max_tokens)
        remaining = loop.remaining_usd()
        if worst > remaining:
            raise _Stop(
                FailureKind.BUDGET_EXCEEDED,
                f"next turn could cost up to ${worst:.4f} (~{estimate} input tokens) but ${max(0.0, remaining):.4f}"
                " remains",
            )
        try:
            response: ApiMessage = await client.messages.create(model=loop.model, max_tokens=max_tokens, **request)
            return response
        except anthropic.APIStatusError as exc:
            status: int | None = exc.status_code
            retry_after = parse_retry_after(dict(exc.response.headers))
            detail = f"HTTP {exc.status_code} from {loop.model}: {exc.api_message or exc.message}"
        except anthropic.APIConnectionError as exc:
            status, retry_after, detail = None, None, f"connection error: {exc.message}"
        action = classify_status(status)
        if action is ErrorAction.FALLBACK:
            if loop.model_index + 1 >= len(loop.models):
                raise _Stop(FailureKind.UNAVAILABLE, f"no model could serve the call; last: {detail}")
            loop.model_index += 1
            attempt = 0
            continue
        if action is ErrorAction.RETRY:
            if attempt >= config.retry_attempts:
                raise _Stop(FailureKind.UNAVAILABLE, f"gave up after {attempt + 1} attempts: {detail}")
            delay = backoff_delay(
                attempt, retry_after=retry_after, base_s=config.backoff_base_s, cap_s=config.backoff_cap_s
            )
            await anyio.sleep(delay)
            attempt += 1
            continue
        raise _Stop(FailureKind.API_ERROR, detail)


async def _run_tool(project_root: Path, name: str, args: object, allowed: frozenset[str]) -> tuple[str, bool]:
    if not isinstance(args, dict):
        return "tool input must be an object", True
    try:
        return await anyio.to_thread.run_sync(run_tool, project_root, name, args, allowed), False
    except ToolError as exc:
        return str(exc), True
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}", True


async def _loop(
    client: AsyncAnthropic,
    loop: _Loop,
    messages: list[dict[str, Any]],
    result_model: type[T],
    *,
    project_root: Path,
    allowed: frozenset[str],
    config: HelperConfig,
    prices: PriceTable,
    system: str,
    max_turns: int,
    max_tokens: int,
) -> T:
    tool_specs = [dict(TOOL_SCHEMAS[name]) for name in sorted(allowed)]
    tool_specs.append(
        {
            "name": SUBMIT_TOOL,
            "description": "Submit the final answer. Its input is the whole answer.",
            "input_schema": result_model.model_json_schema(),
        }
    )
    turn_limit = max_turns
    repair_used = False
    force_submit = False
    new_chars = 0
    while True:
        if loop.turns >= turn_limit:
            raise _Stop(FailureKind.SCHEMA_VALIDATION_FAILED, f"no valid {SUBMIT_TOOL} within {max_turns} turns")
        last_turn = loop.turns + 1 >= turn_limit
        tool_choice = {"type": "tool", "name": SUBMIT_TOOL} if force_submit or last_turn else {"type": "any"}
        request = {"system": system, "messages": messages, "tools": tool_specs, "tool_choice": tool_choice}
        response = await _request(client, loop, config, prices, request, max_tokens=max_tokens, new_chars=new_chars)
        loop.turns += 1
        usage = _usage_of(response)
        cost = prices.cost(loop.model, usage)
        loop.spent_usd += cost
        loop.last_usage = usage
        loop.model_used = loop.model
        if loop.ledger is not None:
            loop.ledger.record(cost)
        messages.append(_assistant_message(response))

        tool_uses = [b for b in response.content if b.type == "tool_use"]
        submit = next((b for b in tool_uses if b.name == SUBMIT_TOOL), None)
        results: list[dict[str, Any]] = []
        if submit is not None:
            try:
                value = result_model.model_validate(submit.input)
            except ValidationError as exc:
                if repair_used:
                    raise _Stop(
                        FailureKind.SCHEMA_VALIDATION_FAILED, f"{SUBMIT_TOOL} invalid after one repair: {exc}"
                    ) from None
                repair_used = True
                force_submit = True
                turn_limit = max(turn_limit, loop.turns + 1)  # the one repair turn is always granted
                errors = json.dumps(exc.errors(include_url=False, include_context=False), default=str)
                results.append(_tool_result(submit.id, f"Invalid input, fix it and call again: {errors}", True))
            else:
                # Answer every tool_use so a later call can continue this session cleanly.
                for block in tool_uses:
                    note = "Result accepted." if block.id == submit.id else "Not run: the result was accepted."
                    results.append(_tool_result(block.id, note, False))
                messages.append({"role": "user", "content": results})
                return value
        for block in tool_uses:
            if block is submit:
                continue
            text, is_error = await _run_tool(project_root, block.name, block.input, allowed)
            results.append(_tool_result(block.id, text, is_error))
        if not results:
            force_submit = True
            results.append({"type": "text", "text": _SUBMIT_RULE})
        messages.append({"role": "user", "content": results})
        new_chars = len(json.dumps(results))


def _tool_result(tool_use_id: str, text: str, is_error: bool) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_use_id, "content": text}
    if is_error:
        block["is_error"] = True
    return block


async def call(
    prompt: str,
    result_model: type[T],
    *,
    project_root: Path,
    config: HelperConfig,
    tools: Collection[str] = READ_ONLY,
    model: str | None = None,
    fallback_models: Collection[str] | None = None,
    max_turns: int | None = None,
    budget_usd: float | None = None,
    session: str | None = None,
    system: str | None = None,
    timeout_s: float | None = None,
    max_tokens: int | None = None,
    ledger: HelperLedger | None = None,
    prices: PriceTable = DEFAULT_PRICES,
) -> HelperResult[T] | HelperFailure:
    """Ask the model for a ``result_model`` value. Unset limits come from ``config``."""
    allowed = frozenset(tools)
    if not allowed <= READ_ONLY:
        raise ValueError(f"helper tools must be read-only ({sorted(READ_ONLY)}), got {sorted(allowed - READ_ONLY)}")
    started = time.monotonic()
    chosen = model or config.model
    fallbacks = config.fallback_models if fallback_models is None else fallback_models
    chain = [chosen, *(m for m in fallbacks if m != chosen)]
    loop = _Loop(chain, config.call_budget_usd if budget_usd is None else budget_usd, ledger)

    def failure(kind: FailureKind, message: str, session_id: str | None) -> HelperFailure:
        return HelperFailure(
            kind=kind,
            message=message,
            cost_usd=loop.spent_usd,
            session_id=session_id,
            turns=loop.turns,
            duration_s=time.monotonic() - started,
            model_used=loop.model_used,
        )

    if not config.available:
        return failure(FailureKind.UNAVAILABLE, "no ANTHROPIC_API_KEY configured", session)
    try:
        history = load_session(project_root, session) if session is not None else []
    except SessionNotFound as exc:
        return failure(FailureKind.INVALID_SESSION, str(exc), session)
    session_id = session or new_session_id()
    messages = continue_messages(history, prompt)
    limit_s = config.timeout_s if timeout_s is None else timeout_s
    outcome: HelperResult[T] | HelperFailure
    client = _open_client(config, limit_s)
    try:
        with anyio.fail_after(limit_s):
            value = await _loop(
                client,
                loop,
                messages,
                result_model,
                project_root=project_root,
                allowed=allowed,
                config=config,
                prices=prices,
                system=f"{system or _DEFAULT_SYSTEM}\n\n{_SUBMIT_RULE}",
                max_turns=config.max_turns if max_turns is None else max_turns,
                max_tokens=config.max_tokens if max_tokens is None else max_tokens,
            )
        assert loop.model_used is not None
        outcome = HelperResult(
            value=value,
            session_id=session_id,
            cost_usd=loop.spent_usd,
            turns=loop.turns,
            duration_s=time.monotonic() - started,
            model_used=loop.model_used,
        )
    except _Stop as stop:
        outcome = failure(stop.kind, stop.message, session_id)
    except TimeoutError:
        outcome = failure(FailureKind.TIMEOUT, f"helper call exceeded {limit_s:g} s", session_id)
    finally:
        with anyio.CancelScope(shield=True):
            await client.close()
    try:
        save_session(project_root, session_id, messages, model=loop.model_used, cost_usd=loop.spent_usd)
    except OSError as exc:
        # The answer (and the money) are real even if the history could not be kept.
        if isinstance(outcome, HelperResult):
            return outcome
        return failure(outcome.kind, f"{outcome.message}; session not saved: {exc}", session_id)
    return outcome
