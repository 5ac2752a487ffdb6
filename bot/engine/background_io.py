"""One worker thread for the engine's disk housekeeping (the status file, journal checkpoints).

Why: the event loop also carries the tick-to-order path, and a flush to disk there (the status file's fsync, a WAL
checkpoint's two fsyncs) stalls whatever tick arrives meanwhile by a millisecond or more. Jobs are keyed: a job
submitted while an earlier one of the same key still waits replaces it (only the latest status is worth writing),
and the worker runs them in the order their keys were first queued. The journal's own writes stay on the loop:
they decide what may be sent, and their order matters.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from bot.logs import get_logger

log = get_logger(__name__)

Job = Callable[[], object]
ErrorHandler = Callable[[str, BaseException], None]


class BackgroundIO:
    """Runs keyed jobs on one daemon thread; `close()` finishes what is queued (the final status) and stops."""

    def __init__(self, on_error: ErrorHandler, name: str = "alvh-io") -> None:
        self._on_error = on_error
        self._cond = threading.Condition()
        self._pending: dict[str, Job] = {}
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def submit(self, key: str, job: Job) -> None:
        """Queue `job` under `key` (replacing a queued, not yet started job of that key); never blocks on I/O."""
        with self._cond:
            if self._closed:
                raise RuntimeError(f"background I/O is closed; {key!r} was not queued")
            self._pending[key] = job
            self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self._pending)

    def close(self, timeout: float = 10.0) -> bool:
        """Run what is queued, then stop; False when the worker did not finish within `timeout` seconds."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending:
                    return
                key = next(iter(self._pending))
                job = self._pending.pop(key)
            try:
                job()
            except BaseException as exc:  # one failed write must not stop later ones; the owner decides what to say
                try:
                    self._on_error(key, exc)
                except Exception:
                    log.exception("background I/O error handler failed", job=key)
