"""Where the bot connects: IB Gateway / TWS, or the built-in simulator started in-process."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from bot.settings.base import Section


class BrokerSettings(Section):
    host: str = Field("127.0.0.1", description="gateway host; only loopback unless allow_remote_host is true")
    port: int = Field(4002, ge=0, le=65535, description="4002 IB Gateway paper, 4001 live; 7497 TWS paper, 7496 live")
    client_id: int = Field(17, ge=0, description="API client id; must be unique per gateway")
    allow_remote_host: bool = Field(
        False, description="allow a non-loopback host (the API socket is unencrypted: use a tunnel)"
    )
    library: Literal["auto", "ib_async", "ib_insync"] = Field(
        "auto", description="IB client library; auto prefers ib_async, falls back to ib_insync"
    )
    connect_timeout_s: float = Field(10.0, gt=0, description="timeout of one connect attempt, seconds")
    request_timeout_s: float = Field(20.0, gt=0, description="timeout of a single API request, seconds")
    simulator_scenario: str | None = Field(
        None,
        description="start the built-in gateway simulator in-process with this scenario "
        "(calm, spike, crash-recover, grind); unset connects to a real gateway",
    )
    simulator_replay_dir: Path | None = Field(
        None, description="start the simulator replaying daily history from this directory instead"
    )
    simulator_speed: float = Field(
        20000.0, gt=0, description="simulated seconds per real second (20000: a month in about two minutes)"
    )
    # Reconnecting. A refused or turned-away attempt fails at once, so these waits, not connect_timeout_s, set the
    # pace: the worst time from a gateway coming back to the bot trading again is about reconnect_max_s (or
    # client_id_in_use_backoff_s after a 326) plus one reconciliation.
    reconnect_initial_s: float = Field(
        1.0, gt=0, description="wait after the first failed (re)connect attempt, seconds; doubles with each failure"
    )
    reconnect_max_s: float = Field(
        10.0,
        gt=0,
        description="longest wait between reconnect attempts, seconds (the bot retries forever: IB Gateway restarts "
        "daily); bounds how long after the gateway returns the bot is back",
    )
    initial_connect_attempts: int = Field(
        5, ge=1, description="at start-up, give up with an error after this many failed connect attempts"
    )
    client_id_in_use_backoff_s: float = Field(
        10.0,
        ge=0,
        description="least wait after error 326 (another API client holds client_id), seconds; "
        "the gateway frees the id only when that client disconnects",
    )
    watchdog_interval_s: float = Field(
        15.0, gt=0, description="how often a quiet gateway is probed with a current-time request, seconds"
    )
    watchdog_timeout_s: float = Field(
        10.0, gt=0, description="a probe unanswered this long drops the connection and reconnects, seconds"
    )
    historical_concurrency: int = Field(3, ge=1, description="historical-data requests in flight at once")
    historical_min_interval_s: float = Field(
        2.0, ge=0, description="least time between the starts of two historical-data requests, seconds (IB pacing)"
    )
    pacing_retry_s: float = Field(
        15.0, ge=0, description="wait before retrying a request the gateway refused for pacing (162), seconds"
    )
    pacing_retries: int = Field(3, ge=0, description="retries of a request refused for pacing before giving up")
    market_data_type: Literal[1, 2, 3, 4] = Field(
        1, description="1 live, 2 frozen, 3 delayed, 4 delayed-frozen (3 for a paper account without data)"
    )

    @model_validator(mode="after")
    def _check_consistency(self) -> BrokerSettings:
        if not self.allow_remote_host and not is_loopback_host(self.host):
            raise ValueError(
                f"broker.host {self.host!r} is not a loopback address; the TWS API socket is unencrypted. "
                "Use 127.0.0.1 (an SSH tunnel for a remote gateway) or set broker.allow_remote_host = true"
            )
        if self.simulator_scenario and self.simulator_replay_dir:
            raise ValueError("broker.simulator_scenario and broker.simulator_replay_dir are both set; keep only one")
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise ValueError(
                f"broker.reconnect_max_s ({self.reconnect_max_s:g}) is below broker.reconnect_initial_s "
                f"({self.reconnect_initial_s:g}); raise reconnect_max_s or lower reconnect_initial_s"
            )
        return self

    @property
    def uses_simulator(self) -> bool:
        return bool(self.simulator_scenario or self.simulator_replay_dir)


def is_loopback_host(host: str) -> bool:
    """True for localhost and any 127.0.0.0/8 or ::1 literal."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
