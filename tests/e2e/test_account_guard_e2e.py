"""Paper mode against a live-looking account: refused before anything is planned or sent."""

from __future__ import annotations

import pytest

from .helpers import alvh, orders, orders_log_of, private_dir, write_config

pytestmark = pytest.mark.timeout(60)


def test_paper_mode_refuses_a_live_looking_account(tmp_path) -> None:
    d = private_dir(tmp_path)
    config = write_config(d, mode="paper", extra='\n[sim]\naccount_id = "U1234567"\n')
    result = alvh("run", "--config", str(config), "--log-format", "json")
    assert result.returncode != 0
    assert "paper mode refuses account U***567" in result.stderr
    assert "not a paper account" in result.stderr
    error = [line for line in result.stderr.splitlines() if line.startswith("alvh run:")]
    assert len(error) == 1 and "U1234567" not in error[0]  # one clear message; the bot masks the account id
    log = orders(orders_log_of(d))
    assert not [r for r in log if r["event"] == "place"], "an order reached the exchange"


def test_live_mode_needs_the_flag_and_the_named_account(tmp_path) -> None:
    d = private_dir(tmp_path)
    config = write_config(d, mode="live", extra='\n[sim]\naccount_id = "U1234567"\n')
    without_flag = alvh("run", "--config", str(config), "--log-format", "json")
    assert without_flag.returncode != 0
    assert "--live on the command line" in without_flag.stderr
    assert "bot.live_account" in without_flag.stderr
    with_flag_only = alvh("run", "--config", str(config), "--live", "--log-format", "json")
    assert with_flag_only.returncode != 0
    assert "bot.live_account" in with_flag_only.stderr
    assert not [r for r in orders(orders_log_of(d)) if r["event"] == "place"]
