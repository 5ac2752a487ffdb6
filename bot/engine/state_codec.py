"""StrategyState back from its journaled form (`StrategyState.to_dict`, stored in every decision record).

Crash-only: the engine keeps no state file of its own. On start it reads the last decision record and continues
from the layer phases, timers, episodes and the RSI latch it holds. A record it cannot read is an error with a fix,
never a silent fresh start (a fresh start could re-arm a layer that was unwinding).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from bot.domain.layers import LayerBook, LayerId, LayerPhase, LayerState
from bot.domain.state import StrategyState
from bot.signals.inputs import SignalMemory


class StateRestoreError(ValueError):
    """The journal's last decision record does not hold a readable strategy state."""


def _when(value: Any) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def state_from_dict(data: Mapping[str, Any]) -> StrategyState:
    try:
        layers = {}
        for row in data["layers"]:
            lid = LayerId(int(row["layer"]))
            layers[lid] = LayerState(
                layer=lid,
                phase=LayerPhase(row["phase"]),
                since=_when(row.get("since")),
                cooldown_until=_when(row.get("cooldown_until")),
                strength=float(row.get("strength", 0.0)),
                thickness=float(row.get("thickness", 0.0)),
                episode=int(row.get("episode", 0)),
                near_kind=str(row.get("near_kind") or ""),
            )
        book = LayerBook(tuple(layers.get(lid, LayerState(lid)) for lid in LayerId))  # type: ignore[arg-type]
        memory = SignalMemory(vix_rsi_on=bool(data.get("memory", {}).get("vix_rsi_on", False)))
        return StrategyState(
            layers=book,
            memory=memory,
            harvested_cash_usd=float(data.get("harvested_cash_usd", 0.0)),
            realized_hedge_pnl_usd=float(data.get("realized_hedge_pnl_usd", 0.0)),
            mid_curve_fraction=float(data.get("mid_curve_fraction", 0.0)),
            last_plan_ids=tuple(data.get("last_plan_ids", ())),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StateRestoreError(
            f"the journal's last decision holds no readable strategy state ({exc!r}). Fix: point bot.journal_path "
            "at the journal this bot wrote, or move it aside to start from a fresh state"
        ) from None


def restore_state(last_record: Mapping[str, Any] | None) -> StrategyState:
    """The state after the last journaled decision, or a fresh state when the journal has none."""
    if last_record is None:
        return StrategyState()
    state = last_record.get("state")
    if not isinstance(state, Mapping):
        raise StateRestoreError("the journal's last decision record has no 'state'. Fix: use the bot's own journal")
    return state_from_dict(state)
