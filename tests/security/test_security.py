"""Security checks through the real entry point (`python -m bot`, i.e. `alvh`): who the bot talks to, which account
it may trade, who may write its journal, and what its logs reveal.

Already covered elsewhere and not repeated here (docs/reliability.md lists them): the broker facade's own
non-loopback refusal when settings are bypassed (tests/broker/test_facade_unit.py), paper mode against a
live-looking account and live mode without both acknowledgements through `alvh run` (tests/e2e/
test_account_guard_e2e.py), the guard's full mode x account table (tests/shell/test_account_guard.py) and
Journal.open's permission checks (tests/shell/test_journal.py).
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.sim.orders_log import read_orders_log

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "DU7654321"  # the simulated paper account of these runs: its full id must never be printed
CONFIG = """
[bot]
mode = "{mode}"
journal_path = "{journal}"
cycle_seconds = 900.0

[broker]
simulator_scenario = "spike"
simulator_speed = {speed}
client_id = 17
{broker}

[signals]
ts_ratio_source = "vix_vix3m"

[sim]
account_id = "{account}"
"""

pytestmark = pytest.mark.timeout(150)


def private(tmp_path: Path) -> Path:
    d = tmp_path / "run"
    d.mkdir(mode=0o700)
    return d


def config(d: Path, *, mode: str = "paper", broker: str = "", account: str = ACCOUNT, speed: int = 20_000) -> Path:
    path = d / "bot.toml"
    text = CONFIG.format(mode=mode, journal=d / "alvh.sqlite", broker=broker, account=account, speed=speed)
    path.write_text(text, encoding="utf-8")
    return path


def alvh(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("ALVH_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def no_orders(d: Path) -> bool:
    log = d / "alvh.sim-orders.jsonl"
    return not log.exists() or not [r for r in read_orders_log(log) if r["event"] == "place"]


# ---------------------------------------------------------------------------------------------------- loopback
@pytest.mark.parametrize("host", ["10.1.2.3", "192.168.0.10", "gateway.example.com", "0.0.0.0"])
def test_a_non_loopback_gateway_is_refused_unless_allowed(tmp_path: Path, host: str) -> None:
    d = private(tmp_path)
    text = f'[broker]\nhost = "{host}"\nport = 4002\n[bot]\njournal_path = "{d / "alvh.sqlite"}"\n'
    path = d / "remote.toml"
    path.write_text(text, encoding="utf-8")
    for argv in (("check-config", str(path)), ("run", "--config", str(path))):
        result = alvh(*argv)
        assert result.returncode == 2, result.stderr
        assert "not a loopback address" in result.stderr and "allow_remote_host" in result.stderr
        assert "Traceback" not in result.stderr
    assert not (d / "alvh.sqlite").exists(), "the bot started (created its journal) before refusing the host"
    allowed = d / "allowed.toml"
    allowed.write_text(text.replace("[broker]\n", "[broker]\nallow_remote_host = true\n"), encoding="utf-8")
    assert alvh("check-config", str(allowed)).returncode == 0


def test_the_simulator_listens_on_loopback_only() -> None:
    from bot.sim.market.factory import build_market
    from bot.sim.runner import SimulatorThread

    with SimulatorThread(build_market("calm")) as thread:
        host = thread.call(lambda s: s.server._server.sockets[0].getsockname()[0])  # type: ignore[union-attr]
    assert host == "127.0.0.1"


# ---------------------------------------------------------------------------------------------------- accounts
def test_approval_mode_on_a_live_account_needs_both_acknowledgements(tmp_path: Path) -> None:
    d = private(tmp_path)
    result = alvh("run", "--config", str(config(d, mode="approval", account="U7654321")), "--log-format", "json")
    assert result.returncode == 2, result.stderr[-2000:]
    assert "--live" in result.stderr and "bot.live_account" in result.stderr
    refusal = [line for line in result.stderr.splitlines() if line.startswith("alvh run:")]
    assert len(refusal) == 1 and "U7654321" not in refusal[0], "the refusal printed the full account id"
    assert no_orders(d)


def test_live_mode_refuses_a_paper_account_even_with_both_acknowledgements(tmp_path: Path) -> None:
    d = private(tmp_path)
    path = config(d, mode="live")
    text = path.read_text(encoding="utf-8").replace("[bot]\n", f'[bot]\nlive_account = "{ACCOUNT}"\n')
    path.write_text(text, encoding="utf-8")
    result = alvh("run", "--config", str(path), "--live", "--log-format", "json")
    assert result.returncode == 2, result.stderr[-2000:]
    assert "account guard" in result.stderr
    assert no_orders(d)


# ---------------------------------------------------------------------------------------------------- journal
@pytest.mark.parametrize("what", ["directory", "file"])
def test_the_bot_refuses_to_start_on_a_journal_others_can_write(tmp_path: Path, what: str) -> None:
    """Against a gateway (no in-process simulator, which starts every run on a fresh journal): the journal is
    opened before anything else, so the refusal comes before any connection attempt."""
    d = private(tmp_path)
    journal = d / "alvh.sqlite"
    path = d / "gateway.toml"
    path.write_text(f'[bot]\nmode = "paper"\njournal_path = "{journal}"\n[broker]\nport = 9\n', encoding="utf-8")
    if what == "directory":
        d.chmod(0o777)
    else:
        journal.touch(mode=0o600)
        journal.chmod(0o666)
    started = time.monotonic()
    result = alvh("run", "--config", str(path), "--log-format", "json")
    assert result.returncode == 2, result.stderr[-2000:]
    assert "writable by other users" in result.stderr and "chmod" in result.stderr
    assert "Traceback" not in result.stderr and "no IB API connection" not in result.stderr
    assert time.monotonic() - started < 20, "it tried to connect before checking the journal"


# ---------------------------------------------------------------------------------------------------- a full run
@pytest.fixture(scope="module")
def simulated_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`alvh run` in paper mode until its first fills, then SIGTERM; its whole output (JSON logs and timeline)."""
    d = private(tmp_path_factory.mktemp("secrun"))
    out = d / "bot.out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with out.open("wb") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "--config", str(config(d, speed=60_000)), "--log-format", "json"],
            cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 100  # the spike's jump is about 25 s of wall time in at 60,000x
            while time.monotonic() < deadline and out.read_text(errors="replace").count('"event": "fill"') < 2:
                assert proc.poll() is None, out.read_text(errors="replace")[-3000:]
                time.sleep(0.2)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    text = out.read_text(errors="replace")
    assert '"event": "fill"' in text, text[-3000:]
    return d, text


def _leaks(where: str, content: str) -> list[str]:
    found = [f"{where}: the full account id"] if ACCOUNT in content else []
    unmasked = sorted(set(re.findall(r"\b(?:DU|U)\d{5,}\b", content)))
    found += [f"{where}: unmasked account-like id {x}" for x in unmasked[:5]]
    if re.search(r"(?i)(password|passwd|secret|token|api[_-]?key)\s*[=:]", content):
        found.append(f"{where}: a credential-looking assignment")
    return found


def test_no_account_id_or_credential_in_the_timeline_or_status(simulated_run: tuple[Path, str]) -> None:
    d, text = simulated_run
    timeline = "\n".join(line for line in text.splitlines() if '"logger": "bot.timeline"' in line)
    assert '"event": "fill"' in timeline
    status = (d / "alvh.sqlite.status.json").read_text(encoding="utf-8")
    assert _leaks("timeline", timeline) + _leaks("status file", status) == []
    assert "DU***321" in timeline, "the masked id is how a person recognises the account; it should be shown"


def test_no_account_id_or_credential_anywhere_in_the_run_output(simulated_run: tuple[Path, str]) -> None:
    """Everything `alvh run` printed (bot, broker, execution and the in-process simulator's logs)."""
    _, text = simulated_run
    assert _leaks("output", text) == []


def test_the_journal_and_its_directory_stay_private(simulated_run: tuple[Path, str]) -> None:
    d, _ = simulated_run
    for path in (d, d / "alvh.sqlite", d / "alvh.sqlite-wal", d / "alvh.sqlite.status.json"):
        if path.exists():
            mode = stat.S_IMODE(path.stat().st_mode)
            assert not mode & (stat.S_IWGRP | stat.S_IWOTH), f"{path} mode {oct(mode)}"


def test_the_journal_exports_for_audit_with_every_fill_the_exchange_made(
    simulated_run: tuple[Path, str], tmp_path: Path
) -> None:
    d, _ = simulated_run
    out = tmp_path / "audit"
    result = alvh("export-journal", "--journal", str(d / "alvh.sqlite"), "--out", str(out), "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    fills = [json.loads(line) for line in (out / "fills.jsonl").read_text(encoding="utf-8").splitlines() if line]
    made = {r["execId"] for r in read_orders_log(d / "alvh.sim-orders.jsonl") if r["event"] == "fill"}
    assert made and made <= {f["exec_id"] for f in fills}
    intents = (out / "intents.jsonl").read_text(encoding="utf-8")
    assert all(f["intent_id"] in intents for f in fills)
    for path in out.iterdir():
        assert not stat.S_IMODE(path.stat().st_mode) & (stat.S_IRWXG | stat.S_IRWXO), f"{path} readable by others"
