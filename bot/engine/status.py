"""The status file: what `alvh status` shows about a running (or finished) bot, written by the engine each cycle.

It sits next to the journal (`<journal>.status.json`), mode 0600 like the journal, and is replaced atomically
(write a temporary file, fsync, rename), so a reader never sees half a file. The journal stays the record of
truth for trading state, intents and approvals; this file adds what only the running process knows: the broker
connection, the masked account, hedge marks and P&L.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

STATUS_VERSION = 1


def clean_json(obj: Any) -> Any:
    """Strict-JSON-ready: non-finite floats become null, dates ISO text, tuples lists."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): clean_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean_json(v) for v in obj]
    if isinstance(obj, dt.datetime | dt.date):
        return obj.isoformat()
    return obj


def status_path(journal_path: Path) -> Path:
    return journal_path.with_name(journal_path.name + ".status.json")


def write_status(path: Path, status: dict[str, Any]) -> None:
    """Atomically replace `path` with `status` as JSON, mode 0600."""
    write_status_text(path, encode_status(status))


def encode_status(status: dict[str, Any]) -> str:
    """The file's text. The engine encodes on its loop and writes on a worker thread: the encoding holds the
    interpreter lock, the file I/O does not."""
    return json.dumps(clean_json({"version": STATUS_VERSION, **status}), default=str, allow_nan=False, sort_keys=True)


def write_status_text(path: Path, data: str) -> None:
    """Atomically replace `path` with `data` (temporary file, fsync, rename), mode 0600."""
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_status(path: Path) -> dict[str, Any] | None:
    """The last status written, or None when there is none (the bot never ran against this journal)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None
