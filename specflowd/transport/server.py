"""Unix-socket server: connections, framing detection, concurrent requests, flow control, graceful stop.

The endpoint (``handle(payload, connection, weigh) -> reply | None``, and optionally ``quick(payload, connection)
-> (answered, reply)`` for messages it can answer without waiting) knows nothing of sockets; this module
knows nothing of JSON-RPC beyond the few error frames it must send when a message cannot even be framed or
a connection cannot be served.

Each accepted connection is served by an asyncio transport (``loop.connect_accepted_socket``): anyio's Unix
socket streams register and unregister the socket with the selector on every read and yield to the loop on
every write, which cost more than the whole JSON-RPC dispatch of a ``daemon.ping`` (bench/rpc.py). The
connection's lifetime, its request tasks and background tasks still live in an anyio task group, so
cancellation (a connection aborted, the daemon stopping) is anyio's, shields included.

Limits (``Limits``; numbers and reasons in docs/daemon.md):
- in-flight requests per connection: at the cap the connection is not read until a request finishes, so a
  client that writes without reading its replies stalls itself instead of growing the daemon;
- a reply that cannot be written within ``write_timeout_s`` (the connection's write buffer stays above its
  high-water mark) closes the connection (its peer stopped reading);
- concurrent connections: one more is answered with an error frame and closed;
- a connection with nothing in flight that sends nothing for ``idle_timeout_s`` is closed, unless it is
  ``idle_exempt`` (an event subscription);
- accept errors (``EMFILE`` when the fd limit is reached, …) are waited out with a backoff, logged once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, cast

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
# answers a message synchronously where it was read, or declines (False): then it gets its own task
Quick = Callable[[bytes, "Connection"], tuple[bool, bytes | None]]

_READ_CHUNK = 256 * 1024
_MAX_REFUSING = 32  # refusals in progress (each waits briefly for the peer's first bytes); beyond: plain close
_LINGER_S = 2.0  # after a framing error: how long the peer may go on sending before we close


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


class Connection(asyncio.Protocol):
    """One client connection. Services may attach state (e.g. an event subscription) and background tasks.

    As the transport's protocol it frames what arrives and starts one task per message (``start``) while fewer
    than ``max_inflight`` requests are in flight; beyond that, messages already read wait in arrival order
    and the transport stops reading until a request finishes."""

    def __init__(
        self, task_group: anyio.abc.TaskGroup, limits: Limits, start: Callable[[Connection, bytes], None]
    ) -> None:
        self._task_group = task_group
        self._limits = limits
        self._start = start
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._decoder = FrameDecoder()
        self.framing: Framing = Framing.NEWLINE
        self.closed = False
        self.idle_exempt = False  # set by long-lived uses (event subscriptions): never closed for idling
        self.attachments: dict[str, Any] = {}
        self.on_close: list[Callable[[], None]] = []
        self._inflight = 0
        self._waiting: deque[bytes] = deque()  # read, not started: the in-flight cap is reached
        self._reading_paused = False
        self._reading_done = False  # end of stream, idle, framing error, daemon stopping, aborted
        self._read_finished = asyncio.Event()
        self._peer_eof = asyncio.Event()
        self.lingering = False  # a framing error was answered: drain the peer briefly, then close
        self._eof_sent = False
        self._writable = asyncio.Event()  # cleared while the write buffer is above its high-water mark
        self._writable.set()
        self._idle: asyncio.Event | None = None  # created only when someone waits for the in-flight to end
        self._requests: set[asyncio.Task[None]] = set()
        self._request_scopes: set[anyio.CancelScope] = set()
        self._requests_cancelled = False
        self._last_read = self._loop.time()
        self._idle_timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol ----------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # a socket transport: reads and writes
        self._arm_idle_timer(self._limits.idle_timeout_s)

    def data_received(self, data: bytes) -> None:
        if self._reading_done:
            return  # stopping, or lingering after a framing error: what the peer still sends is discarded
        self._last_read = self._loop.time()
        try:
            messages = self._decoder.feed(data)
        except FramingError as exc:
            self.framing = self._decoder.framing or Framing.NEWLINE
            self._refuse_stream(_framing_error(exc))
            return
        if self._decoder.framing is not None:
            self.framing = self._decoder.framing
        for message in messages:
            if self._waiting or self._inflight >= self._limits.max_inflight:
                self._waiting.append(message)
            else:
                self._start(self, message)
        if self._waiting:
            self._pause_reading()

    def eof_received(self) -> bool:
        self._peer_eof.set()
        self._finish_reading()
        return True  # keep the transport open: the replies to what is in flight still go out

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._writable.set()  # writers waiting for room find the connection closed
        self._peer_eof.set()
        self._finish_reading()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    # -- in-flight accounting -------------------------------------------------------------------------------
    @property
    def inflight(self) -> int:
        return self._inflight

    def request_started(self, weight: int = 1) -> None:
        self._inflight += weight

    def request_done(self, weight: int = 1) -> None:
        self._inflight -= weight
        while self._waiting and self._inflight < self._limits.max_inflight:
            self._start(self, self._waiting.popleft())
        if self._reading_paused and not self._waiting and not self._reading_done:
            self._reading_paused = False
            if self._transport is not None and not self._transport.is_closing():
                self._transport.resume_reading()
        if self._inflight == 0 and self._idle is not None:
            self._idle.set()

    async def idle(self) -> None:
        """Wait until nothing is in flight."""
        if self._inflight:
            self._idle = asyncio.Event()
            await self._idle.wait()

    # -- reading ------------------------------------------------------------------------------------------
    def _pause_reading(self) -> None:
        if not self._reading_paused and self._transport is not None and not self._transport.is_closing():
            self._reading_paused = True
            self._transport.pause_reading()

    def _finish_reading(self) -> None:
        if self._reading_done:
            return
        self._reading_done = True
        self._waiting.clear()  # never started: nothing to answer
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        self._read_finished.set()

    def stop_reading(self) -> None:
        """The daemon stops: read no new requests (those in flight are still answered)."""
        self._finish_reading()
        self._pause_reading()

    async def reading_finished(self) -> None:
        await self._read_finished.wait()

    def _arm_idle_timer(self, delay: float) -> None:
        self._idle_timer = self._loop.call_later(delay, self._idle_check)

    def _idle_check(self) -> None:
        self._idle_timer = None
        if self._reading_done:
            return
        timeout = self._limits.idle_timeout_s
        quiet_for = self._loop.time() - self._last_read
        if quiet_for < timeout:
            self._arm_idle_timer(timeout - quiet_for)
        elif self._inflight or self._waiting or self.idle_exempt:
            self._arm_idle_timer(timeout)
        else:
            log.info("closing a connection idle for %.0f s", timeout)
            self._finish_reading()

    def _refuse_stream(self, payload: bytes) -> None:
        """The stream cannot be read any further (a framing error): say why, half-close, then linger so the
        peer reads our error rather than a reset."""
        self.lingering = True
        self._finish_reading()
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        transport.write(encode_frame(self.framing, payload))
        self._eof_sent = True
        transport.write_eof()

    async def linger(self) -> None:
        """Discard what the peer still sends until it closes its side, for at most a moment."""
        with anyio.move_on_after(_LINGER_S):
            await self._peer_eof.wait()

    # -- writing ------------------------------------------------------------------------------------------
    async def send(self, payload: bytes) -> bool:
        """Write one message in the connection's framing; False when the peer is gone or stopped reading.
        A whole frame goes to the transport at once, so concurrent replies never interleave."""
        transport = self._open_transport()
        if transport is None:
            return False
        transport.write(encode_frame(self.framing, payload))
        if self._writable.is_set():
            return True
        with anyio.move_on_after(self._limits.write_timeout_s) as timer:
            await self._writable.wait()
        if timer.cancelled_caught:
            log.warning("closing a connection that has not read its replies for %.0f s", self._limits.write_timeout_s)
            self.abort()
            return False
        return not self.closed

    def _open_transport(self) -> asyncio.Transport | None:
        """The transport while replies can still be written to it."""
        transport = self._transport
        if self.closed or self._eof_sent or transport is None or transport.is_closing():
            return None
        return transport

    def can_write_now(self) -> bool:
        """Open, and its write buffer under the high-water mark: a reply written now needs no waiting."""
        return self._open_transport() is not None and self._writable.is_set()

    def write_now(self, payload: bytes) -> None:
        """Write one message at once (``can_write_now`` was checked: nothing to wait for)."""
        transport = self._open_transport()
        if transport is not None:
            transport.write(encode_frame(self.framing, payload))

    # -- lifetime -----------------------------------------------------------------------------------------
    def start_background(self, func: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._task_group.start_soon(func)

    def spawn_request(self, func: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> None:
        """Run one request in its own task. A plain asyncio task in its own anyio cancel scope costs a third of
        an anyio task group's ``start_soon`` (bench/rpc.py); the scope keeps cancellation anyio's (shields
        hold) when the connection ends or is aborted."""
        task = self._loop.create_task(self._request(func, *args))
        self._requests.add(task)
        task.add_done_callback(self._request_done)

    async def _request(self, func: Callable[..., Coroutine[Any, Any, None]], *args: Any) -> None:
        with anyio.CancelScope() as scope:
            if self._requests_cancelled:
                scope.cancel()
            self._request_scopes.add(scope)
            try:
                await func(*args)
            finally:
                self._request_scopes.discard(scope)

    def _request_done(self, task: asyncio.Task[None]) -> None:
        self._requests.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("a request task failed", exc_info=exc)

    def cancel_requests(self) -> None:
        self._requests_cancelled = True
        for scope in self._request_scopes:
            scope.cancel()

    async def requests_ended(self) -> None:
        if self._requests:
            await asyncio.wait(set(self._requests))

    def abort(self) -> None:
        """Stop serving this connection now (its tasks are cancelled; the socket is closed)."""
        self.closed = True
        self._finish_reading()
        if self._transport is not None:
            self._transport.abort()
        self.cancel_requests()
        self._task_group.cancel_scope.cancel()

    def close(self, flush_timeout_s: float) -> None:
        """Close the socket once the write buffer is flushed, or after ``flush_timeout_s`` whatever remains."""
        self.closed = True
        self._finish_reading()
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        transport.close()
        if transport.get_write_buffer_size():
            self._loop.call_later(flush_timeout_s, transport.abort)  # harmless once closed


def _error_frame(code: int, message: str, kind: str, **data: Any) -> bytes:
    error = {"code": code, "message": message, "data": {"kind": kind, **data}}
    return codec.dumps({"jsonrpc": "2.0", "id": None, "error": error})


def _framing_error(exc: FramingError) -> bytes:
    kind = "message_too_large" if isinstance(exc, MessageTooLarge) else "framing_error"
    return _error_frame(-32600, str(exc), kind)


class SocketServer:
    def __init__(
        self, handler: Handler, *, grace_s: float = 3.0, limits: Limits | None = None, quick: Quick | None = None
    ) -> None:
        self._handler = handler
        self._quick = quick
        self._grace_s = grace_s
        self.limits = limits or Limits()
        self._live: set[Connection] = set()
        self._stopping = False
        self._inflight = 0
        self._drained: asyncio.Event | None = None  # created only when the daemon stops and waits for it
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
            self._stopping = True
            for conn in list(self._live):
                conn.stop_reading()
            if self._inflight:
                self._drained = asyncio.Event()
                with anyio.move_on_after(self._grace_s):
                    await self._drained.wait()
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

    def _start(self, conn: Connection, message: bytes) -> None:
        """One message read from ``conn``: answered at once when the endpoint can (and the reply can be written
        without waiting: a peer that does not read gets its replies through tasks, which wait and count against
        its in-flight cap), else its own task, so a slow call never blocks a ping behind it."""
        if self._quick is not None and conn.can_write_now():
            try:
                answered, reply = self._quick(message, conn)
            except Exception:  # a bug: the ordinary path answers it (with an internal error if it fails again)
                log.exception("answering a message at once failed")
                answered, reply = False, None
            if answered:
                if reply is not None:
                    conn.write_now(reply)
                return
        self._inflight += 1
        conn.request_started()
        conn.spawn_request(self._process, conn, message)

    def _end(self) -> None:
        self._inflight -= 1
        if self._inflight == 0 and self._drained is not None:
            self._drained.set()

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
        # the socket leaves the anyio stream for an asyncio transport (see the module's docstring)
        sock = socket.socket(fileno=stream.extra(SocketAttribute.raw_socket).detach())
        conn: Connection | None = None
        try:
            async with anyio.create_task_group() as tg:
                served = Connection(tg, self.limits, self._start)
                await asyncio.get_running_loop().connect_accepted_socket(lambda: served, sock)
                conn = served  # from here on the transport owns the socket
                self._live.add(conn)
                if self._stopping:
                    conn.stop_reading()
                await conn.reading_finished()
                if conn.lingering:
                    await conn.linger()
                # the peer stopped sending (or the daemon stops): answer what is in flight, then close
                with anyio.move_on_after(self._grace_s):
                    await conn.idle()
                await anyio.lowlevel.checkpoint()
                tg.cancel_scope.cancel()
        finally:
            self.connections -= 1
            if conn is None:
                sock.close()
            else:
                self._live.discard(conn)
                conn.cancel_requests()
                with anyio.CancelScope(shield=True):  # as a task group would: its requests end before it does
                    await conn.requests_ended()
                conn.close(self.limits.write_timeout_s)
                for callback in conn.on_close:
                    callback()

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
