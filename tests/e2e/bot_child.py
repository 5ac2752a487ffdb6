"""A real bot process for the crash tests: the Engine in paper mode against a simulator run by the test process.

Usage: python bot_child.py PORT JOURNAL START_ISO SPEED WALL_ANCHOR [MODE [SECTIONS_JSON]]
Both processes derive the market time from the same anchor (AnchoredClock), so a bot killed and restarted agrees
with the simulator about "now". The test stops it with SIGTERM (clean) or SIGKILL (crash).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import signal
import sys

from bot.config import config_from_mapping
from bot.engine.clock import AnchoredClock
from bot.engine.engine import Engine
from bot.engine.simhost import PUSH_INTERVAL_S, SIM_TUNING, accelerated
from bot.engine.timeline import Timeline


async def main(engine: Engine) -> int:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, engine.stop_event.set)
    return await engine.run()


if __name__ == "__main__":
    port, journal, start, speed, anchor = sys.argv[1:6]
    mode = sys.argv[6] if len(sys.argv) > 6 else "paper"
    raw = {
        "bot": {"mode": mode, "journal_path": journal, "cycle_seconds": 900.0},
        "broker": {"port": int(port), "client_id": 17},
        "signals": {"ts_ratio_source": "vix_vix3m"},
        **(json.loads(sys.argv[7]) if len(sys.argv) > 7 else {}),
    }
    config, _ = accelerated(config_from_mapping(raw), float(speed), PUSH_INTERVAL_S)
    clock = AnchoredClock(dt.datetime.fromisoformat(start), float(speed), float(anchor))
    engine = Engine(
        config,
        mode=mode,
        clock=clock,
        timeline=Timeline(sys.stdout, json_lines=True),
        tuning=SIM_TUNING,
        debounce_s=0.5 * float(speed) * PUSH_INTERVAL_S,
        speed=float(speed),
    )
    sys.exit(asyncio.run(main(engine)))
