"""`alvh sim` from the command line: bad input is a clear one-line error, and a run ends at the scenario's end."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from bot.cli import main


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--fault", "explode"], "unknown fault 'explode'"),
        (["--fault", "quotes=nan"], "use quotes=MODE:DUR"),
        (["--scenario", "nope"], "unknown scenario 'nope'"),
        (["--account", "me"], "does not look like an IB account id"),
        (["--speed", "0"], "must be > 0"),
        (["--replay", "/nonexistent/dir"], "is not a directory"),
    ],
)
def test_bad_input_is_one_clear_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_busy_port_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["sim", "--port", str(port), "--log-format", "json"]) == 2
    assert f"cannot listen on 127.0.0.1:{port}: the port is already in use" in capsys.readouterr().err


def test_runs_until_the_scenario_ends(capsys: pytest.CaptureFixture[str]) -> None:
    # two simulated months at ten million times real speed: done in well under a second
    argv = ["sim", "--port", "0", "--scenario", "calm", "--speed", "1e7", "--exit-at-end", "--log-format", "json"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "listening on 127.0.0.1:" in out and "scenario calm" in out
