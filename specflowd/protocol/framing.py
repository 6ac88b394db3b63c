"""Message framing, sans-I/O: bytes in, whole message payloads out.

Two framings share one socket protocol, chosen per connection from its first byte:
- ``Content-Length: N\\r\\n\\r\\n<N bytes>`` (LSP style; what editor JSON-RPC libraries speak);
- newline-delimited JSON (first byte ``{`` or ``[``; for socat and scripts).

This module knows nothing of JSON-RPC: a payload is opaque bytes. Oversized messages raise
``MessageTooLarge`` (the connection must then be closed: the stream position is lost); malformed headers
raise ``FramingError``.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["FrameDecoder", "Framing", "FramingError", "MessageTooLarge", "encode_frame"]

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
_MAX_HEADER_BYTES = 8 * 1024


class Framing(StrEnum):
    CONTENT_LENGTH = "content-length"
    NEWLINE = "newline"


class FramingError(Exception):
    """The byte stream does not follow the connection's framing."""


class MessageTooLarge(FramingError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"message of {size} bytes exceeds the {limit}-byte limit")
        self.size = size
        self.limit = limit


def encode_frame(framing: Framing, payload: bytes) -> bytes:
    if framing is Framing.CONTENT_LENGTH:
        return b"Content-Length: %d\r\n\r\n%s" % (len(payload), payload)
    return payload + b"\n"


class FrameDecoder:
    """Feed bytes, collect complete payloads. Detects the framing on the first non-blank byte."""

    def __init__(self, *, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.framing: Framing | None = None
        self._buffer = bytearray()
        self._limit = max_message_bytes
        self._pending_length: int | None = None

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        if self.framing is None:
            stripped = self._buffer.lstrip()
            if not stripped:
                self._buffer.clear()
                return []
            self._buffer = bytearray(stripped)
            self.framing = Framing.NEWLINE if bytes(stripped[:1]) in (b"{", b"[") else Framing.CONTENT_LENGTH
        if self.framing is Framing.NEWLINE:
            return self._split_lines()
        return self._split_content_length()

    def _split_lines(self) -> list[bytes]:
        messages: list[bytes] = []
        while True:
            newline = self._buffer.find(b"\n")
            if newline < 0:
                if len(self._buffer) > self._limit:
                    raise MessageTooLarge(len(self._buffer), self._limit)
                return messages
            if newline > self._limit:
                raise MessageTooLarge(newline, self._limit)
            line = bytes(self._buffer[:newline]).strip()
            del self._buffer[: newline + 1]
            if line:
                messages.append(line)

    def _split_content_length(self) -> list[bytes]:
        messages: list[bytes] = []
        while True:
            if self._pending_length is None:
                end = self._buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(self._buffer) > _MAX_HEADER_BYTES:
                        raise FramingError("header block too long or missing blank line")
                    return messages
                self._pending_length = self._parse_headers(bytes(self._buffer[:end]))
                del self._buffer[: end + 4]
            if len(self._buffer) < self._pending_length:
                return messages
            messages.append(bytes(self._buffer[: self._pending_length]))
            del self._buffer[: self._pending_length]
            self._pending_length = None

    def _parse_headers(self, block: bytes) -> int:
        length: int | None = None
        for raw in block.split(b"\r\n"):
            name, sep, value = raw.partition(b":")
            if not sep:
                raise FramingError(f"malformed header line {raw[:80]!r}")
            if name.strip().lower() == b"content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    raise FramingError(f"bad Content-Length {value.strip()[:40]!r}") from None
        if length is None or length < 0:
            raise FramingError("missing Content-Length header")
        if length > self._limit:
            raise MessageTooLarge(length, self._limit)
        return length
