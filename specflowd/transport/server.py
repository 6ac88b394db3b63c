"""Unix-socket server: connections, framing detection, concurrent requests, graceful stop.

The endpoint (``handle(payload, connection) -> reply | None``) knows nothing of sockets; this module knows
nothing of JSON-RPC beyond the one error frame it must send when a message cannot even be framed.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import struct
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel
from anyio.abc import SocketAttribute, SocketStream

from specflowd.protocol.framing import FrameDecoder, Framing, FramingError, MessageTooLarge, encode_frame

__all__ = ["Connection", "SocketServer"]

log = logging.getLogger(__name__)

Handler = Callable[[bytes, "Connection"], Awaitable[bytes | None]]

_READ_CHUNK = 256 * 1024


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

    def __init__(self, stream: SocketStream, task_group: anyio.abc.TaskGroup) -> None:
        self._stream = stream
        self._task_group = task_group
        self._write_lock = anyio.Lock()
        self.framing: Framing = Framing.NEWLINE
        self.closed = False
        self.attachments: dict[str, Any] = {}
        self.on_close: list[Callable[[], None]] = []
        self._pending = 0
        self._idle = anyio.Event()
        self._idle.set()

    def request_started(self) -> None:
        if self._pending == 0:
            self._idle = anyio.Event()
        self._pending += 1

    def request_done(self) -> None:
        self._pending -= 1
        if self._pending == 0:
            self._idle.set()

    async def idle(self) -> None:
        await self._idle.wait()

    def start_background(self, func: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._task_group.start_soon(func)

    async def send(self, payload: bytes) -> bool:
        """Write one message in the connection's framing; False when the peer is gone."""
        if self.closed:
            return False
        frame = encode_frame(self.framing, payload)
        try:
            async with self._write_lock:
                await self._stream.send(frame)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            self.closed = True
            return False
        return True


def _framing_error(exc: FramingError) -> bytes:
    kind = "message_too_large" if isinstance(exc, MessageTooLarge) else "framing_error"
    return json.dumps(
        {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": str(exc), "data": {"kind": kind}}}
    ).encode()


class SocketServer:
    def __init__(self, handler: Handler, *, grace_s: float = 3.0) -> None:
        self._handler = handler
        self._grace_s = grace_s
        self._read_scopes: set[anyio.CancelScope] = set()
        self._inflight = 0
        self._idle = anyio.Event()
        self._idle.set()
        self.connections = 0

    async def serve(self, listener: anyio.abc.SocketListener, stop: anyio.Event) -> None:
        """Serve until ``stop`` is set; then stop accepting, answer in-flight requests, close."""
        async with anyio.create_task_group() as tg:
            accept_scope = anyio.CancelScope()

            async def accept() -> None:
                with accept_scope:
                    await listener.serve(self._connection, task_group=tg)

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
        self.connections += 1
        conn: Connection | None = None
        try:
            async with anyio.create_task_group() as tg:
                conn = Connection(stream, tg)
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

    async def _process(self, conn: Connection, message: bytes) -> None:
        try:
            reply = await self._handler(message, conn)
            if reply is not None:
                await conn.send(reply)
        finally:
            conn.request_done()
            self._end()

    @staticmethod
    async def _linger(stream: SocketStream) -> None:
        """Half-close and discard what the peer is still sending, so it reads our error instead of a reset."""
        try:
            await stream.send_eof()
            with anyio.move_on_after(2.0):
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
                    try:
                        data = await stream.receive(_READ_CHUNK)
                    except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
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
                        self._begin()
                        conn.request_started()
                        tg.start_soon(self._process, conn, message)
            finally:
                self._read_scopes.discard(scope)
