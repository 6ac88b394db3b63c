"""Unix-socket server: connections, framing detection, concurrent requests, flow control, graceful stop.

The endpoint (``handle(payload, connection, weigh) -> reply | None``) knows nothing of sockets; this module
knows nothing of JSON-RPC beyond the few error frames it must send when a message cannot even be framed or
a connection cannot be served.

Limits (``Limits``; numbers and reasons in docs/daemon.md):
- in-flight requests per connection: at the cap the connection is not read until a request finishes, so a
  client that writes without reading its replies stalls itself instead of growing the daemon;
- a reply that cannot be written within ``write_timeout_s`` closes the connection (its peer stopped
  reading);
- concurrent connections: one more is answered with an error frame and closed;
- a connection with nothing in flight that sends nothing for ``idle_timeout_s`` is closed, unless it is
  ``idle_exempt`` (an event subscription);
- accept errors (``EMFILE`` when the fd limit is reached, …) are waited out with a backoff, logged once.
"""

from __future__ import annotations

import logging
import os
import socket
import struct
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel
from anyio.abc import SocketAttribute, SocketStream

from specflowd.protocol import codec
from specflowd.protocol.framing import FrameDecoder, Framing, FramingError, MessageTooLarge, encode_frame

__all__ = ["Connection", "Limits", "SocketServer"]

log = logging.getLogger(__name__)

Weigh = Callable[[int], None]
Handler = Callable[[bytes, "Connection", Weigh], Awaitable[bytes | None]]

_READ_CHUNK = 256 * 1024
_MAX_REFUSING = 32  # refusals in progress (each waits briefly for the peer's first bytes); beyond: plain close


@dataclass(frozen=True)
class Limits:
    max_connections: int = 256
    max_inflight: int = 64
    idle_timeout_s: float = 300.0
    write_timeout_s: float = 60.0
    refuse_wait_s: float = 1.0  # how long a refused peer may take to send its first bytes (framing detection)


def peer_uid(stream: SocketStream) -> int | None:
    raw: socket.socket = stream.extra(SocketAttribute.raw_socket)
    try:
        creds = raw.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


class Connection:
    """One client connection. Services may attach state (e.g. an event subscription) and background tasks."""

    def __init__(self, stream: SocketStream, task_group: anyio.abc.TaskGroup, limits: Limits) -> None:
        self._stream = stream
        self._task_group = task_group
        self._limits = limits
        self._write_lock = anyio.Lock()
        self.framing: Framing = Framing.NEWLINE
        self.closed = False
        self.idle_exempt = False  # set by long-lived uses (event subscriptions): never closed for idling
        self.attachments: dict[str, Any] = {}
        self.on_close: list[Callable[[], None]] = []
        self._inflight = 0
        self._idle = anyio.Event()
        self._idle.set()
        self._room = anyio.Event()
        self._room.set()

    @property
    def inflight(self) -> int:
        return self._inflight

    def request_started(self, weight: int = 1) -> None:
        if self._inflight == 0:
            self._idle = anyio.Event()
        self._inflight += weight
        if self._inflight >= self._limits.max_inflight and self._room.is_set():
            self._room = anyio.Event()

    def request_done(self, weight: int = 1) -> None:
        self._inflight -= weight
        if self._inflight < self._limits.max_inflight:
            self._room.set()
        if self._inflight == 0:
            self._idle.set()

    async def room(self) -> None:
        """Wait until another request may start (the in-flight cap)."""
        if not self._room.is_set():  # checked first: Event.wait() yields to the loop even when set
            await self._room.wait()

    async def idle(self) -> None:
        await self._idle.wait()

    def start_background(self, func: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._task_group.start_soon(func)

    def abort(self) -> None:
        """Stop serving this connection now (its tasks are cancelled; the socket is closed)."""
        self.closed = True
        self._task_group.cancel_scope.cancel()

    async def send(self, payload: bytes) -> bool:
        """Write one message in the connection's framing; False when the peer is gone or stopped reading."""
        if self.closed:
            return False
        frame = encode_frame(self.framing, payload)
        with anyio.move_on_after(self._limits.write_timeout_s) as timer:
            try:
                async with self._write_lock:
                    await self._stream.send(frame)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                self.closed = True
                return False
        if timer.cancelled_caught:
            log.warning("closing a connection that has not read its replies for %.0f s", self._limits.write_timeout_s)
            self.abort()
            return False
        return True


def _error_frame(code: int, message: str, kind: str, **data: Any) -> bytes:
    error = {"code": code, "message": message, "data": {"kind": kind, **data}}
    return codec.dumps({"jsonrpc": "2.0", "id": None, "error": error})


def _framing_error(exc: FramingError) -> bytes:
    kind = "message_too_large" if isinstance(exc, MessageTooLarge) else "framing_error"
    return _error_frame(-32600, str(exc), kind)


class SocketServer:
    def __init__(self, handler: Handler, *, grace_s: float = 3.0, limits: Limits | None = None) -> None:
        self._handler = handler
        self._grace_s = grace_s
        self.limits = limits or Limits()
        self._read_scopes: set[anyio.CancelScope] = set()
        self._inflight = 0
        self._idle = anyio.Event()
        self._idle.set()
        self.connections = 0
        self.refused = 0
        self._refusing = 0
        self._refusal_logged = False

    async def serve(self, listener: anyio.abc.SocketListener, stop: anyio.Event) -> None:
        """Serve until ``stop`` is set; then stop accepting, answer in-flight requests, close."""
        async with anyio.create_task_group() as tg:
            accept_scope = anyio.CancelScope()

            async def accept() -> None:
                with accept_scope:
                    await self._accept_loop(listener, tg)

            tg.start_soon(accept)
            await stop.wait()
            accept_scope.cancel()
            await listener.aclose()
            for scope in list(self._read_scopes):
                scope.cancel()
            with anyio.move_on_after(self._grace_s):
                await self._idle.wait()
            await anyio.lowlevel.checkpoint()
            tg.cancel_scope.cancel()

    async def _accept_loop(self, listener: anyio.abc.SocketListener, tg: anyio.abc.TaskGroup) -> None:
        failures = 0
        while True:
            try:
                stream = await listener.accept()
            except anyio.BrokenResourceError as exc:
                # EMFILE/ENFILE (fd limit), ENOBUFS/ENOMEM, ECONNABORTED: the pending connection stays in the
                # backlog; wait for resources (e.g. a connection closing) instead of dying
                if failures == 0:
                    log.warning("cannot accept connections (%s); retrying with backoff", exc.__cause__ or exc)
                failures += 1
                await anyio.sleep(min(1.0, 0.01 * 2 ** min(failures, 7)))
                continue
            if failures:
                log.warning("accepting connections again after %d failed attempts", failures)
                failures = 0
            tg.start_soon(self._connection, stream)

    def _begin(self) -> None:
        if self._inflight == 0:
            self._idle = anyio.Event()
        self._inflight += 1

    def _end(self) -> None:
        self._inflight -= 1
        if self._inflight == 0:
            self._idle.set()

    async def _connection(self, stream: SocketStream) -> None:
        uid = peer_uid(stream)
        if uid != os.getuid():
            log.warning("refused a connection from uid %s", uid)
            await stream.aclose()
            return
        if self.connections >= self.limits.max_connections:
            await self._refuse(stream)
            return
        self._refusal_logged = False
        self.connections += 1
        conn: Connection | None = None
        try:
            async with anyio.create_task_group() as tg:
                conn = Connection(stream, tg, self.limits)
                await self._read_loop(stream, conn, tg)
                # the peer stopped sending (or the daemon stops): answer what is in flight, then close
                with anyio.move_on_after(self._grace_s):
                    await conn.idle()
                await anyio.lowlevel.checkpoint()
                tg.cancel_scope.cancel()
        finally:
            self.connections -= 1
            if conn is not None:
                conn.closed = True
                for callback in conn.on_close:
                    callback()
            with anyio.CancelScope(shield=True):
                await stream.aclose()

    async def _refuse(self, stream: SocketStream) -> None:
        """Over the connection cap: one error frame in the peer's framing, then close."""
        self.refused += 1
        if not self._refusal_logged:
            log.warning("refusing connections: %d already open (the limit)", self.connections)
            self._refusal_logged = True
        if self._refusing >= _MAX_REFUSING:
            await stream.aclose()
            return
        self._refusing += 1
        try:
            decoder = FrameDecoder()
            with anyio.move_on_after(self.limits.refuse_wait_s):
                try:
                    while decoder.framing is None:
                        decoder.feed(await stream.receive(_READ_CHUNK))
                except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                    pass
                except FramingError:
                    pass
            frame = _error_frame(
                -32000,
                f"the daemon already serves {self.limits.max_connections} connections; close one and retry",
                "too_many_connections",
                limit=self.limits.max_connections,
            )
            try:
                await stream.send(encode_frame(decoder.framing or Framing.CONTENT_LENGTH, frame))
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                return
            await self._linger(stream, 1.0)
        finally:
            self._refusing -= 1
            with anyio.CancelScope(shield=True):
                await stream.aclose()

    async def _process(self, conn: Connection, message: bytes) -> None:
        weight = 1

        def weigh(extra: int) -> None:
            nonlocal weight
            weight += extra
            conn.request_started(extra)

        try:
            reply = await self._handler(message, conn, weigh)
            if reply is not None:
                await conn.send(reply)
        finally:
            conn.request_done(weight)
            self._end()

    @staticmethod
    async def _linger(stream: SocketStream, seconds: float = 2.0) -> None:
        """Half-close and discard what the peer is still sending, so it reads our error instead of a reset."""
        try:
            await stream.send_eof()
            with anyio.move_on_after(seconds):
                while await stream.receive(_READ_CHUNK):
                    pass
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            pass

    async def _read_loop(
        self,
        stream: SocketStream,
        conn: Connection,
        tg: anyio.abc.TaskGroup,
    ) -> None:
        decoder = FrameDecoder()
        with anyio.CancelScope() as scope:
            self._read_scopes.add(scope)
            try:
                while True:
                    await conn.room()  # at the in-flight cap: stop reading until a request finishes
                    with anyio.move_on_after(self.limits.idle_timeout_s) as idle:
                        try:
                            data = await stream.receive(_READ_CHUNK)
                        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                            return
                    if idle.cancelled_caught:
                        if conn.inflight or conn.idle_exempt:
                            continue
                        log.info("closing a connection idle for %.0f s", self.limits.idle_timeout_s)
                        return
                    try:
                        messages = decoder.feed(data)
                    except FramingError as exc:
                        conn.framing = decoder.framing or Framing.NEWLINE
                        await conn.send(_framing_error(exc))
                        await self._linger(stream)
                        return
                    if decoder.framing is not None:
                        conn.framing = decoder.framing
                    for message in messages:
                        await conn.room()
                        self._begin()
                        conn.request_started()
                        tg.start_soon(self._process, conn, message)
            finally:
                self._read_scopes.discard(scope)
