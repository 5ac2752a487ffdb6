"""What the strategy carries from one decision to the next (everything else is re-read from the market)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from bot.domain.layers import LayerBook
from bot.signals.inputs import SignalMemory


@dataclass(frozen=True, slots=True)
class StrategyState:
    """Start with `StrategyState()`. `decide` returns the next one; the shell persists it (journal) across restarts.

    - `harvested_cash_usd` / `realized_hedge_pnl_usd`: kept by the shell from fills (covered-call premium taken in,
      realized P&L of closed hedges); the cash press proposes new condor capacity from their sum.
    - `mid_curve_fraction`: share of layer 2's futures held in its far contract, frozen when layer 2 starts
      harvesting (its `thickness` then means the overwrite share), so the futures do not move at harvest.
    - `last_plan_ids`: intent ids of the previous decision, for the record and for spotting repeats.
    """

    layers: LayerBook = field(default_factory=LayerBook)
    memory: SignalMemory = field(default_factory=SignalMemory)
    harvested_cash_usd: float = 0.0
    realized_hedge_pnl_usd: float = 0.0
    mid_curve_fraction: float = 0.0
    last_plan_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("harvested_cash_usd", "realized_hedge_pnl_usd", "mid_curve_fraction"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"StrategyState.{name} is not finite; restore it from the journal")
        if not 0.0 <= self.mid_curve_fraction <= 1.0:
            raise ValueError(f"StrategyState.mid_curve_fraction {self.mid_curve_fraction} is outside [0, 1]")

    def to_dict(self) -> dict[str, object]:
        return {
            "layers": [
                {
                    "layer": int(s.layer),
                    "phase": s.phase.value,
                    "since": s.since.isoformat() if s.since else None,
                    "cooldown_until": s.cooldown_until.isoformat() if s.cooldown_until else None,
                    "strength": s.strength,
                    "thickness": s.thickness,
                    "episode": s.episode,
                    "near_kind": s.near_kind,
                }
                for s in self.layers.layers
            ],
            "memory": self.memory.to_dict(),
            "harvested_cash_usd": self.harvested_cash_usd,
            "realized_hedge_pnl_usd": self.realized_hedge_pnl_usd,
            "mid_curve_fraction": self.mid_curve_fraction,
            "last_plan_ids": list(self.last_plan_ids),
        }
