"""What the operator sees: the timeline's lines (session closes, layer transitions, alerts, warnings said once), the
hedge P&L from the journal's fills, the status file `alvh status` reads, and the end-of-run summary.

A mixin of `Engine`, like modes.py: none of it decides, checks or sends anything, so it lives apart from the loop
and the risk checks in engine.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.account_guard import mask_account
from bot.decision import Decision
from bot.domain.market import MarketSnapshot
from bot.engine.status import encode_status, status_path, write_status_text
from bot.engine.summary import print_summary
from bot.engine.timeline import money, num, votes_summary
from bot.logs import get_logger
from bot.risk import TradingState

if TYPE_CHECKING:
    from bot.engine.engine import Engine

log = get_logger("bot.engine")
STATUS_EVERY_S = 0.25  # wall seconds between two status-file writes (each cycle would be too many at 20,000x)


class Reporting:
    """Mixed into Engine; every method reads the engine's state through `self`."""

    # ------------------------------------------------------------------------------------------------ timeline
    def _session_line(self: Engine, day: dt.date) -> None:
        """One line per closed session: the closes, the votes, the layers and P&L."""
        vix = self.history.closes["vix"].get(day)
        decision = self._last_decision
        votes = votes_summary([v.to_dict() for v in decision.record.votes]) if decision else "no decision yet"
        f1 = f2 = None
        if decision is not None:
            p1, p2 = (decision.record.snapshot.curve.nth(day, n) for n in (1, 2))
            f1, f2 = (p.quote.value() if p else None for p in (p1, p2))
        layers = " ".join(f"L{int(s.layer)}:{s.phase.value}" for s in self.state.layers.layers)
        pnl = self._pnl()
        self.timeline.emit(
            "close",
            dt.datetime.combine(day, dt.time(21, 15), dt.UTC),
            f"VIX {num(vix)} F1 {num(f1)} F2 {num(f2)} | {votes} | {layers} | hedge {money(pnl['hedge_total'])} "
            f"condors {money(pnl['condors'])} net {money(pnl['net'])}",
            vix=vix,
            f1=f1,
            f2=f2,
            pnl=pnl,
        )

    def _show_transitions(self: Engine, decision: Decision, now: dt.datetime) -> None:
        for t in decision.record.transitions:
            text = f"layer {int(t.layer)} {t.from_phase.value} -> {t.to_phase.value} ({t.name}; {t.rule})"
            self.summary.transitions.append((t.at, text))
            self.timeline.emit("layer", t.at, text, layer=int(t.layer), to=t.to_phase.value, rule=t.rule)

    def _show_alerts(self: Engine, decision: Decision, now: dt.datetime) -> None:
        codes = sorted({a.code for a in decision.alerts})
        text = ", ".join(codes)
        if text != self._said.get("alerts", ""):
            self._said["alerts"] = text
            if codes:
                first = {a.code: a.message for a in decision.alerts}
                self.timeline.emit("alert", now, "; ".join(f"{c}: {first[c]}" for c in codes))

    def _say(self: Engine, key: str, kind: str, text: str) -> None:
        """Emit a line only when it differs from the last one under `key` (no repeated lines every cycle)."""
        if self._said.get(key) != text:
            self._said[key] = text
            self.timeline.emit(kind, self.clock.now(), text)

    def _background_failed(self: Engine, key: str, exc: BaseException) -> None:
        """Called on the worker thread: say it on the loop (the timeline is not thread-safe)."""
        what = "cannot write the status file" if key == "status" else f"background {key} failed"
        try:
            assert self._event_loop is not None
            self._event_loop.call_soon_threadsafe(self._say, f"io-{key}", "warning", f"{what}: {exc}")
        except (AssertionError, RuntimeError):  # the loop has closed: the log is all that is left
            log.warning(what, error=repr(exc))

    # ------------------------------------------------------------------------------------------------ P&L and status
    def _rebuild_ledger(self: Engine) -> None:
        assert self.journal is not None
        rows = []
        for rec in self.journal.list_intents():
            rows += self.journal.fills_for(rec.id)
        for row in sorted(rows, key=lambda r: r["time"]):
            self.ledger.add_fill(
                row["exec_id"], row["contract"] or "", row["side"] or "", row["quantity"], row["price"],
                row["commission"],
            )  # fmt: skip
            self._fills_seen.add(row["exec_id"])

    def _marks(self: Engine) -> dict[str, float | None]:
        decision = self._last_decision
        if decision is None:
            return {}
        snap = decision.record.snapshot
        marks: dict[str, float | None] = {}
        for key in self.ledger.open_keys():
            inst = next((h.instrument for h in snap.hedges if h.instrument.key == key), None)
            q = snap.quote_for(inst) if inst else None
            marks[key] = q.value() if q else None
        return marks

    def _pnl(self: Engine) -> dict[str, float | None]:
        unrealized = self.ledger.unrealized_usd(self._marks())
        realized = self.ledger.realized_usd - self.ledger.commissions_usd
        hedge = realized + unrealized if unrealized is not None else None
        if self._last_decision is not None:
            values = [s.pnl for s in self._last_decision.record.book.structures]
            if values and all(v is not None for v in values):
                self._condor_pnl = sum(values)  # type: ignore[arg-type]
        condors = self._condor_pnl  # the last known value: after hours some leg quotes are stale
        net = hedge + condors if hedge is not None and condors is not None else None
        return {
            "hedge_realized": realized,
            "hedge_unrealized": unrealized,
            "hedge_total": hedge,
            "harvested": self.ledger.harvested_usd,
            "condors": condors,
            "net": net,
        }

    def _write_status(
        self: Engine,
        snapshot: MarketSnapshot,
        record: dict[str, Any],
        trading: TradingState | None,
        *,
        running: bool = True,
    ) -> None:
        loop_time = asyncio.get_running_loop().time()
        if running and loop_time - self._status_written < STATUS_EVERY_S:
            return
        self._status_written = loop_time
        assert self.journal is not None
        trading_rec = self.journal.trading_state()
        marks = self._marks()
        hedges = [
            {
                "instrument": h.instrument.key,
                "quantity": h.quantity,
                "avg_cost": h.avg_cost,
                "mark": marks.get(h.instrument.key),
            }
            for h in snapshot.hedges
        ]
        layers = []
        for row in record.get("state", {}).get("layers", []):
            rules = [t for t in record.get("transitions", []) if t.get("layer") == row["layer"]]
            layers.append({**row, "last_rule": rules[-1]["rule"] if rules else None})
        status = {
            "updated_at": dt.datetime.now(dt.UTC),
            "market_time": snapshot.now,
            "running": running,
            "pid": os.getpid(),
            "mode": self.mode,
            "account": mask_account(self.account.account if self.account else None),
            "broker": self.broker.state.value if self.broker and running else "closed",
            "simulator": self.sim.market.info.name if self.sim else None,
            "trading_state": {"state": trading_rec.state.value, "reason": trading_rec.reason, "by": trading_rec.set_by},
            "regime": record.get("regime"),
            "layers": layers,
            "votes": record.get("votes", []),
            "book": record.get("book", {}),
            "hedges": hedges,
            "hedge_break_evens": record.get("hedge_break_evens"),
            "pnl": self._pnl(),
            "in_flight": sorted(self._inflight),
            "counts": dataclasses.asdict(self.summary) | {"transitions": len(self.summary.transitions)},
            "alerts": record.get("alerts", []),
        }
        if self._io is not None:
            path = status_path(Path(self.journal.path))
            self._io.submit("status", functools.partial(write_status_text, path, encode_status(status)))

    def _print_summary(self: Engine) -> None:
        print_summary(self.timeline, self.summary, self.state.layers, self._pnl(), self.clock.now())
