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

    @model_validator(mode="after")
    def _check_host_and_simulator(self) -> BrokerSettings:
        if not self.allow_remote_host and not is_loopback_host(self.host):
            raise ValueError(
                f"broker.host {self.host!r} is not a loopback address; the TWS API socket is unencrypted. "
                "Use 127.0.0.1 (an SSH tunnel for a remote gateway) or set broker.allow_remote_host = true"
            )
        if self.simulator_scenario and self.simulator_replay_dir:
            raise ValueError("broker.simulator_scenario and broker.simulator_replay_dir are both set; keep only one")
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
