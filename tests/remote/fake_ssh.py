"""A stand-in for ``ssh HOST specflowctl bridge`` (no sshd, no daemon): answers newline-delimited JSON-RPC on
stdin/stdout like a daemon speaking protocol ``FAKE_SSH_PROTOCOL`` (after ``FAKE_SSH_GREETING`` on stdout, as a
chatty login script would print it), and appends its argv to ``FAKE_SSH_LOG``
(one line per connection), so tests can count connections and check what a far daemon's answers do."""

from __future__ import annotations

import json
import os
import sys

RESULTS = {
    "orchestrate.list": {"orchestrations": [], "total": 0},
    "scheduler.status": {"queue": [], "running": [], "groups": [], "gates": []},
}


def answer(request: dict[str, object]) -> dict[str, object]:
    method = request.get("method")
    if method == "daemon.hello":
        result: object = {"protocol_version": int(os.environ.get("FAKE_SSH_PROTOCOL", "2")), "version": "9.9.9"}
    else:
        result = RESULTS.get(str(method), {})
    return {"jsonrpc": "2.0", "id": request.get("id"), "result": result}


def main() -> None:
    with open(os.environ["FAKE_SSH_LOG"], "a") as log:
        log.write(json.dumps(sys.argv[1:]) + "\n")
    if os.environ.get("FAKE_SSH_GREETING"):  # a chatty login script on the far side
        sys.stdout.write(os.environ["FAKE_SSH_GREETING"] + "\n")
    for line in sys.stdin:
        message = json.loads(line)
        reply = [answer(m) for m in message] if isinstance(message, list) else answer(message)
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
