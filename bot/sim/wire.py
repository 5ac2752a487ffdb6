"""TWS socket framing: the handshake, length-prefixed NUL-terminated frames, and field encoding.

Pure bytes in, fields out; no asyncio, so the codec is testable alone and shared by the server and the tests.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Iterable

SERVER_VERSION = 176
HANDSHAKE_PREFIX = b"API\0"
MAX_FRAME = 16 * 1024 * 1024  # a frame longer than this is a broken client, not a big order

_LEN = struct.Struct(">I")
_VERSION_RE = re.compile(r"^v(\d+)(?:\.\.(\d+))?(?: (.*))?$")


class ProtocolError(Exception):
    """The peer sent bytes that are not the TWS protocol; the session closes."""


def encode_field(value: object) -> str:
    """One field as TWS sends it: unset (None) -> "", bool -> 0/1, inf -> "Infinite", else str()."""
    if value is None:
        return ""
    if value is True:
        return "1"
    if value is False:
        return "0"
    if isinstance(value, float):
        if value == math.inf:
            return "Infinite"
        return repr(value)
    return str(value)


def frame(fields: Iterable[object]) -> bytes:
    """Encode one message: 4-byte big-endian length, then each field NUL-terminated (the last one too)."""
    payload = "".join([encode_field(f) + "\0" for f in fields]).encode()
    return _LEN.pack(len(payload)) + payload


def frame_raw(payload: bytes) -> bytes:
    return _LEN.pack(len(payload)) + payload


def parse_version_range(text: str) -> tuple[int, int, str]:
    """`v157..176 +OPTS` -> (157, 176, "+OPTS"); a single `v176` means min == max."""
    m = _VERSION_RE.match(text)
    if not m:
        raise ProtocolError(f"bad API version string {text!r}; expected like 'v157..176'")
    low = int(m.group(1))
    high = int(m.group(2)) if m.group(2) else low
    return low, high, m.group(3) or ""


def negotiate(low: int, high: int, server_version: int = SERVER_VERSION) -> int | None:
    """The version both sides speak, or None when the client cannot speak ours (it is then refused)."""
    if low <= server_version <= high:
        return server_version
    return None


class FrameReader:
    """Incremental decoder of what a client sends: first `API\\0` plus the version frame, then field frames."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._handshake_done = False
        self.version_text: str | None = None

    @property
    def handshake_done(self) -> bool:
        return self._handshake_done

    def feed(self, data: bytes) -> list[list[str]]:
        """Append bytes; return every complete message (after the handshake) as a list of string fields."""
        self._buf += data
        out: list[list[str]] = []
        if not self._handshake_done:
            if len(self._buf) < len(HANDSHAKE_PREFIX):
                return out
            if bytes(self._buf[: len(HANDSHAKE_PREFIX)]) != HANDSHAKE_PREFIX:
                raise ProtocolError("client did not start with 'API\\0'; is this a TWS API client?")
            payload = self._take_frame(len(HANDSHAKE_PREFIX))
            if payload is None:
                return out
            # the version string is length-prefixed but NOT NUL-terminated
            self.version_text = payload.decode(errors="replace").rstrip("\0")
            self._handshake_done = True
        while True:
            payload = self._take_frame(0)
            if payload is None:
                return out
            fields = payload.decode(errors="backslashreplace").split("\0")
            if fields and fields[-1] == "":
                fields.pop()
            out.append(fields)

    def _take_frame(self, start: int) -> bytes | None:
        if len(self._buf) < start + 4:
            return None
        (size,) = _LEN.unpack_from(self._buf, start)
        if size > MAX_FRAME:
            raise ProtocolError(f"frame of {size} bytes exceeds the {MAX_FRAME} byte limit")
        end = start + 4 + size
        if len(self._buf) < end:
            return None
        payload = bytes(self._buf[start + 4 : end])
        del self._buf[:end]
        return payload
