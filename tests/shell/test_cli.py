"""The operator commands: exit codes, messages without tracebacks, --json that parses, and approval from a second
process while the bot's connection holds the journal."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bot.cli import main
from bot.journal import IntentStatus, Journal
from bot.risk import TradingState

from .helpers import FakeClock, make_intent

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def jpath(private_dir: Path) -> Path:
    return private_dir / "alvh.sqlite"


def add_pending(path: Path, intent_id: str = "L1-e1-VX-open", clock=None, **kw):
    with Journal.open(path, **({"clock": clock} if clock else {})) as j:
        return j.record_intent(
            make_intent(intent_id, **kw), mode="approval", needs_approval=True, pending_expiry_s=900,
            approved_ttl_s=300,
        )  # fmt: skip


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_pending_lists_what_a_person_needs(capsys, jpath):
    rec = add_pending(jpath)
    code, out, _ = run(capsys, "pending", "--journal", str(jpath))
    assert code == 0
    needed = [rec.id, rec.short_fingerprint, "BUY 2 VX:2026-04-15", "limit 17.2", "reference 17", "layer 1"]
    needed += ["layer 1 activate", "vix_rsi=for", "expires in", f"--fingerprint {rec.short_fingerprint}"]
    for text in needed:
        assert text in out, text


def test_pending_json_parses(capsys, jpath):
    rec = add_pending(jpath)
    code, out, _ = run(capsys, "pending", "--json", "--journal", str(jpath))
    data = json.loads(out)
    assert code == 0 and data["trading_state"]["state"] == "active"
    (item,) = data["pending"]
    assert item["id"] == rec.id and item["fingerprint"] == rec.short_fingerprint
    assert (item["side"], item["quantity"], item["limit_price"]) == ("BUY", 2, 17.2)
    assert item["votes"][0]["name"] == "vix_rsi" and item["expires_at"]


def test_pending_empty_and_missing_journal(capsys, jpath, private_dir):
    Journal.open(jpath).close()
    assert run(capsys, "pending", "--journal", str(jpath))[1].strip().endswith(str(jpath))
    assert json.loads(run(capsys, "pending", "--json", "--journal", str(jpath))[1])["pending"] == []
    code, _, err = run(capsys, "pending", "--journal", str(private_dir / "missing.sqlite"))
    assert code == 2 and "no journal at" in err


def test_pending_finds_the_journal_through_the_config(capsys, jpath, tmp_path):
    add_pending(jpath)
    config = tmp_path / "c.toml"
    config.write_text(f'[bot]\njournal_path = "{jpath}"\n')
    code, out, _ = run(capsys, "pending", "--config", str(config))
    assert code == 0 and "L1-e1-VX-open" in out
    config.write_text("[bot]\njournal_pth = 1\n")
    code, _, err = run(capsys, "pending", "--config", str(config))
    assert code == 2 and "did you mean `bot.journal_path`" in err


def test_approve_and_the_refusals(capsys, jpath):
    rec = add_pending(jpath)
    code, _, err = run(capsys, "approve", rec.id, "--fingerprint", "0" * 12, "--journal", str(jpath))
    assert code == 2 and "changed it since you looked" in err
    code, out, _ = run(capsys, "approve", rec.id, "--fingerprint", rec.short_fingerprint, "--journal", str(jpath))
    assert code == 0 and f"approved {rec.id}" in out
    code, _, err = run(capsys, "approve", rec.id, "--fingerprint", rec.short_fingerprint, "--journal", str(jpath))
    assert code == 2 and "is approved" in err and "not awaiting approval" in err
    code, _, err = run(capsys, "reject", rec.id, "--journal", str(jpath))
    assert code == 2 and "not awaiting approval" in err
    code, _, err = run(capsys, "approve", "nope", "--fingerprint", "0" * 12, "--journal", str(jpath))
    assert code == 2 and "no intent 'nope'" in err


def test_approve_refuses_an_expired_intent(capsys, jpath):
    rec = add_pending(jpath, clock=FakeClock())  # created in March 2026: long expired by wall-clock now
    code, _, err = run(capsys, "approve", rec.id, "--fingerprint", rec.short_fingerprint, "--journal", str(jpath))
    assert code == 2 and "expired" in err
    with Journal.open(jpath) as j:
        assert j.get_intent(rec.id).status is IntentStatus.EXPIRED


def test_approve_without_fingerprint_off_a_terminal_is_refused(capsys, jpath, monkeypatch):
    rec = add_pending(jpath)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    code, _, err = run(capsys, "approve", rec.id, "--journal", str(jpath))
    assert code == 2 and "--fingerprint is required" in err


def test_approve_interactively_binds_to_what_was_shown(capsys, jpath, monkeypatch):
    rec = add_pending(jpath)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert run(capsys, "approve", rec.id, "--journal", str(jpath))[0] == 1
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    code, out, _ = run(capsys, "approve", rec.id, "--journal", str(jpath))
    assert code == 0 and rec.short_fingerprint in out


def test_reject_with_reason(capsys, jpath):
    rec = add_pending(jpath)
    code, out, _ = run(capsys, "reject", rec.id, "--reason", "too large", "--journal", str(jpath))
    assert code == 0 and "will not be sent" in out
    with Journal.open(jpath) as j:
        assert j.get_intent(rec.id).status is IntentStatus.REJECTED
        assert j.approval_of(rec.id)["reason"] == "too large"


def test_halt_reducing_and_resume(capsys, jpath):
    code, out, _ = run(capsys, "halt", "--reason", "FOMC", "--journal", str(jpath))  # creates: start halted
    assert code == 0 and "halted" in out
    with Journal.open(jpath) as j:
        state = j.trading_state()
        assert (state.state, state.reason) == (TradingState.HALTED, "FOMC") and state.set_by.startswith("operator:")
    assert run(capsys, "halt", "--reducing", "--journal", str(jpath))[0] == 0
    with Journal.open(jpath) as j:
        assert j.trading_state().state is TradingState.REDUCING
    code, out, _ = run(capsys, "resume", "--journal", str(jpath))
    assert code == 0 and "reducing" in out and "-> active" in out
    code, out, _ = run(capsys, "resume", "--journal", str(jpath))
    assert code == 0 and "already active" in out


def test_resume_after_an_automatic_halt_needs_the_command(capsys, jpath):
    with Journal.open(jpath) as j:
        j.set_trading_state(TradingState.HALTED, "position_mismatch: VX expected 2, broker 3", by="auto")
        assert j.trading_state().state is TradingState.HALTED  # nothing but a person clears it
    code, out, _ = run(capsys, "resume", "--journal", str(jpath))
    assert code == 0 and "auto: position_mismatch" in out


def test_export_journal(capsys, jpath, tmp_path):
    add_pending(jpath)
    code, out, _ = run(capsys, "export-journal", "--journal", str(jpath), "--out", str(tmp_path / "audit"))
    assert code == 0 and "intents" in out
    with (tmp_path / "audit" / "intents.csv").open(newline="") as fh:
        assert [row["id"] for row in csv.DictReader(fh)] == ["L1-e1-VX-open"]
    code, _, _ = run(capsys, "export-journal", "--journal", str(jpath), "--out", str(tmp_path / "audit"),
                     "--format", "jsonl")  # fmt: skip
    assert code == 0 and json.loads((tmp_path / "audit" / "intents.jsonl").read_text())["id"] == "L1-e1-VX-open"
    (tmp_path / "afile").write_text("x")
    code, _, err = run(capsys, "export-journal", "--journal", str(jpath), "--out", str(tmp_path / "afile"))
    assert code == 2 and "is a file" in err


def test_unsafe_journal_directory_is_a_clear_error(capsys, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    code, _, err = run(capsys, "halt", "--journal", str(shared / "alvh.sqlite"))
    assert code == 2 and "writable by other users" in err and "Fix:" in err


def test_approve_from_a_second_process_while_the_bot_holds_the_journal(jpath):
    rec = add_pending(jpath)
    bot = Journal.open(jpath)  # the running bot's connection
    bot.record_event("connection", "connected")
    locked, release = threading.Event(), threading.Event()

    def hold_write_lock() -> None:
        with bot._write():  # the bot in the middle of a (slow) write transaction
            locked.set()
            release.wait(5)

    holder = threading.Thread(target=hold_write_lock)
    holder.start()
    locked.wait(5)
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "approve", rec.id, "--fingerprint", rec.short_fingerprint, "--journal",
         str(jpath)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(0.8)
    assert proc.poll() is None, "the approval should wait for the bot's transaction, not fail"
    release.set()
    holder.join()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert time.monotonic() - started >= 0.8 and "approved" in out
    assert bot.get_intent(rec.id).status is IntentStatus.APPROVED  # the bot sees it on its next read
    bot.close()
