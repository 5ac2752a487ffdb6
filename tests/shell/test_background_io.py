"""The engine's disk housekeeping worker: it never blocks the caller, keeps only the latest job per key, finishes
what is queued on close, and survives a failing job."""

from __future__ import annotations

import threading

import pytest

from bot.engine.background_io import BackgroundIO

WAIT_S = 10.0


def _never_fails(key: str, exc: BaseException) -> None:
    raise AssertionError(f"unexpected failure of {key}: {exc!r}")


def test_submit_returns_while_a_job_blocks_and_jobs_run_on_the_worker_thread() -> None:
    release, started = threading.Event(), threading.Event()
    threads: list[str] = []

    def slow() -> None:
        threads.append(threading.current_thread().name)
        started.set()
        release.wait(WAIT_S)

    io = BackgroundIO(_never_fails, name="test-io")
    try:
        io.submit("status", slow)
        assert started.wait(WAIT_S)
        io.submit("checkpoint", lambda: threads.append("second"))  # returns although the worker is busy
        assert threads == ["test-io"]
    finally:
        release.set()
        assert io.close()
    assert threads == ["test-io", "second"]


def test_a_queued_job_is_replaced_by_a_later_one_of_the_same_key() -> None:
    release, started = threading.Event(), threading.Event()
    written: list[int] = []
    io = BackgroundIO(_never_fails)
    try:
        io.submit("block", lambda: (started.set(), release.wait(WAIT_S)))
        assert started.wait(WAIT_S)
        for version in (1, 2, 3):
            io.submit("status", lambda v=version: written.append(v))
        assert io.pending() == 1
    finally:
        release.set()
        assert io.close()
    assert written == [3]


def test_close_runs_what_is_queued_then_refuses_new_jobs() -> None:
    done: list[str] = []
    io = BackgroundIO(_never_fails)
    io.submit("status", lambda: done.append("final status"))
    assert io.close()
    assert done == ["final status"]
    with pytest.raises(RuntimeError, match="closed"):
        io.submit("status", lambda: None)


def test_a_failing_job_reaches_the_error_handler_and_later_jobs_still_run() -> None:
    failures: list[tuple[str, str]] = []
    done: list[str] = []

    def boom() -> None:
        raise OSError("disk full")

    io = BackgroundIO(lambda key, exc: failures.append((key, str(exc))))
    io.submit("status", boom)
    io.submit("checkpoint", lambda: done.append("checkpoint"))
    assert io.close()
    assert failures == [("status", "disk full")]
    assert done == ["checkpoint"]
