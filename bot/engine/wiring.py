"""Market wiring: contract discovery, quote subscriptions (with the VIX-call window that follows the futures) and the
daily-history warm-up the indicators need before the first decision.

A mixin of `Engine`, like modes.py: it sets up and keeps current what the engine watches (broker subscriptions,
market data, instruments, history) and decides nothing, so the loop and the risk checks in engine.py read without it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING

from bot.broker.errors import BrokerError, NotConnectedError
from bot.broker.types import ContractSpec
from bot.domain.intents import HedgeInstrument, HedgeKind
from bot.domain.market import MarketSnapshot
from bot.engine.history import closes_before, futures_ratio, ratio_of
from bot.engine.snapshot import hedge_instrument, hedge_positions, spec_expiry
from bot.signals.loaders import load_signal_files

if TYPE_CHECKING:
    from bot.engine.engine import Engine

OPTION_STRIKE_MARGIN = 3.0  # VIX call strikes watched reach this far beyond the sizing offsets (futures move)
OPTION_RECENTER = 3.0  # re-pick the watched strikes when the future moved this many points
MINI_CONTRACTS_WATCHED = 3  # VXM contracts quoted from the start (the ones layer 1 and 2 trade)
VIX_HISTORY = "2 Y"  # >= 250 daily VIX bars for a converged Wilder RSI
OTHER_HISTORY = "1 Y"
STARTUP_ATTEMPTS = 5  # discovery + warm-up restarts after a dropped connection before giving up
STARTUP_RECONNECT_WAIT_S = 60.0  # wall seconds to wait for the reconnect supervisor each time


# Defined here, not in engine.py, because discovery and warm-up raise it too and engine.py imports this module;
# engine.py imports it back, so `from bot.engine.engine import EngineError` names the same class.
class EngineError(Exception):
    """A start-up problem a person must fix (account guard, gateway unreachable, unusable journal)."""


class MarketWiring:
    """Mixed into Engine; every method reads the engine's state through `self`."""

    # ------------------------------------------------------------------------------------------------ discovery
    async def _discover_and_warm_up(self: Engine) -> None:
        """Discovery and warm-up survive a dropped connection: wait for the reconnect supervisor, then start over.

        Both are idempotent (subscriptions are keyed by contract, history is re-read whole), so starting over is safe.
        """
        assert self.broker is not None
        for attempt in range(1, STARTUP_ATTEMPTS + 1):
            try:
                await self._discover()
                await self._warm_up()
                return
            except (ConnectionError, NotConnectedError) as exc:
                self.timeline.emit(
                    "warning",
                    self.clock.now(),
                    f"connection lost during start-up ({exc}); waiting for the gateway, attempt {attempt}",
                )
                if not await self.broker.wait_ready(STARTUP_RECONNECT_WAIT_S):
                    break
        raise EngineError(
            "the connection to the gateway dropped during start-up (contract discovery and history warm-up) and did "
            "not come back. Fix: check that IB Gateway/TWS is running and logged in, then start alvh again"
        )

    async def _discover(self: Engine) -> None:
        broker = self.broker
        assert broker is not None
        for role in ("vix", "vix3m", "vix9d", "spx"):
            try:
                spec = await broker.index(role.upper())
            except BrokerError as exc:
                self.timeline.emit("warning", self.clock.now(), f"{role.upper()} not available: {exc}")
                continue
            setattr(self.inst, role, spec)
            await self._watch(spec)
        try:
            self.inst.vixy = await broker.vixy()
            await self._watch(self.inst.vixy)
        except BrokerError as exc:
            self.timeline.emit("warning", self.clock.now(), f"VIXY not available: {exc}")
        today = self.clock.now().date()
        curve = await broker.vx_curve(HedgeKind.VX, today)
        self.inst.curve = curve.contracts
        for spec in curve.contracts:
            await self._watch(spec)
        try:  # the front minis are what small books trade: quoted before the first order needs them
            minis = await broker.vx_curve(HedgeKind.VXM, today)
            for spec in minis.contracts[:MINI_CONTRACTS_WATCHED]:
                await self._watch(spec)
        except BrokerError as exc:
            self.timeline.emit("warning", self.clock.now(), f"VXM futures not available: {exc}")
        for spec in await broker.condor_legs():
            await self._watch(spec)
        for row in self._positions():
            if hedge_instrument(row.contract) is not None and not self.md.tracked(row.contract.con_id):
                await self._watch_position(row.contract)
        legs = sum(1 for p in self._positions() if p.contract.sec_type == "OPT" and p.contract.symbol == "SPX")
        self.timeline.emit(
            "discover",
            self.clock.now(),
            f"{len(self.inst.curve)} VX contracts, {legs} condor legs, VIX/VIX3M/VIX9D/SPX/VIXY subscribed",
        )

    async def _watch(self: Engine, spec: ContractSpec) -> None:
        assert self.broker is not None
        self.md.track(spec)
        await self.broker.subscribe(spec)
        inst = hedge_instrument(spec)
        if inst is not None and self.executor is not None:
            self.executor.remember(inst, spec)  # its first order needs no contract-details round trip

    async def _watch_position(self: Engine, spec: ContractSpec) -> None:
        """A hedge position's contract (e.g. a VIX option bought earlier) needs a quote for its mark."""
        assert self.broker is not None
        inst = hedge_instrument(spec)
        if inst is None:
            return
        try:
            full = await self.broker.resolve(inst)
        except BrokerError:
            return
        if inst.kind is HedgeKind.VIX_OPTION:
            self.inst.vix_options[full.con_id] = full
        await self._watch(full)

    def _maybe_refresh_options(self: Engine, snapshot: MarketSnapshot) -> None:
        """Watch VIX calls around F1 and F2 (the covered-call and tail-spread strikes); re-centre as futures move."""
        if self._options_task is not None and not self._options_task.done():
            return
        wanted: dict[dt.date, float] = {}
        for n in (1, 2):
            point = snapshot.curve.nth(snapshot.today, n)
            value = point.quote.value() if point else None
            if point is None or value is None:
                continue
            center = self._options_center.get(point.expiry)
            if center is None or abs(center - value) >= OPTION_RECENTER:
                wanted[point.expiry] = value
        if wanted:
            self._options_task = asyncio.get_running_loop().create_task(self._subscribe_options(wanted))

    def _strike_window(self: Engine, fwd: float) -> tuple[float, float]:
        """The call strikes sizing can pick around a future at `fwd`: covered calls from fwd + overwrite offset, tail
        spreads up to fwd + long offset + width; a margin each side. Only these are watched: a gateway allows a
        limited number of market-data lines (100 by default)."""
        s = self.config.sizing
        low = fwd + min(s.overwrite_strike_offset, s.tail_long_offset) - OPTION_STRIKE_MARGIN
        high = fwd + max(s.overwrite_strike_offset, s.tail_long_offset + s.tail_spread_width) + OPTION_STRIKE_MARGIN
        return low, high

    async def _subscribe_options(self: Engine, wanted: dict[dt.date, float]) -> None:
        assert self.broker is not None
        try:
            chain = await self.broker.vix_option_chain()
        except BrokerError as exc:
            self._say("options", "warning", f"no VIX option chain: {exc}")
            return
        for expiry, fwd in wanted.items():
            if expiry.strftime("%Y%m%d") not in chain.expirations:
                continue
            low, high = self._strike_window(fwd)
            held = {i.key for i in hedge_positions(self._positions())}
            for con_id, spec in list(self.inst.vix_options.items()):
                option = hedge_instrument(spec)
                outside = option is not None and option.expiry == expiry and not low <= (option.strike or 0) <= high
                if outside and option.key not in held:  # type: ignore[union-attr]
                    self.broker.unsubscribe(con_id)
                    del self.inst.vix_options[con_id]
            for strike in (k for k in chain.strikes if low <= k <= high):
                inst = HedgeInstrument(HedgeKind.VIX_OPTION, expiry, float(strike), "C")
                try:
                    spec = await self.broker.resolve(inst)
                except BrokerError:
                    continue
                if spec.con_id not in self.inst.vix_options:
                    self.inst.vix_options[spec.con_id] = spec
                    await self._watch(spec)
            self._options_center[expiry] = fwd

    # ------------------------------------------------------------------------------------------------ history
    async def _warm_up(self: Engine) -> None:
        broker = self.broker
        assert broker is not None
        today = self.clock.now().date()
        cfg = self.config
        try:
            macro, breadth, externals = load_signal_files(cfg.signals)
        except (OSError, ValueError) as exc:
            raise EngineError(f"signal data files: {exc}") from None
        self.history.macro, self.history.breadth, self.history.externals = macro, breadth, externals

        async def bars(spec: ContractSpec | None, duration: str) -> dict[dt.date, float]:
            if spec is None:
                return {}
            try:
                return closes_before(await broker.daily_bars(spec, duration), today)
            except BrokerError as exc:
                self.timeline.emit("warning", self.clock.now(), f"no daily bars for {spec.key}: {exc}")
                return {}

        vix, vix3m, spx, vixy = await asyncio.gather(
            bars(self.inst.vix, VIX_HISTORY),
            bars(self.inst.vix3m, OTHER_HISTORY),
            bars(self.inst.spx, OTHER_HISTORY),
            bars(self.inst.vixy, OTHER_HISTORY),
        )
        for name, values in (("vix", vix), ("vix3m", vix3m), ("spx", spx), ("vixy", vixy)):
            self.history.load(name, values)
        if cfg.signals.ts_ratio_source == "vix_vix3m":
            ratio = ratio_of(vix, vix3m)
        else:
            curve_bars = {}
            for spec in self.inst.curve[:4]:
                try:
                    curve_bars[spec] = await broker.daily_bars(spec, OTHER_HISTORY)
                except BrokerError:
                    continue
            ratio = futures_ratio(curve_bars, today)
        self.history.load("ratio", ratio)
        need = cfg.signals.ratio_min_history
        if len(ratio) < need:
            self.timeline.emit(
                "warning",
                self.clock.now(),
                f"only {len(ratio)} daily {cfg.signals.ts_ratio_source} ratio bars (ts_macd needs {need}): the ts_macd "
                "signals abstain until enough sessions have closed. Fix: signals.ts_ratio_source = 'vix_vix3m' "
                "when the gateway lists no expired VX contracts",
            )
        counts = self.history.counts()
        self.timeline.emit("history", self.clock.now(), ", ".join(f"{k} {v} bars" for k, v in counts.items()))

    def _observe_history(self: Engine, role: str, now: dt.datetime) -> None:
        md, inst = self.md, self.inst
        if role in ("vix", "vix3m", "spx", "vixy"):
            spec = getattr(inst, role)
            q = md.quote(spec.con_id) if spec else None
            self.history.observe(role, q.value() if q else None, now)
        if self.config.signals.ts_ratio_source == "vix_vix3m" and role in ("vix", "vix3m"):
            a = md.quote(inst.vix.con_id) if inst.vix else None
            b = md.quote(inst.vix3m.con_id) if inst.vix3m else None
            va, vb = (a.value() if a else None), (b.value() if b else None)
            if va and vb:
                self.history.observe("ratio", va / vb, now)
        elif self.config.signals.ts_ratio_source == "f1_f2" and role == "curve":
            listed = [s for s in inst.curve if (spec_expiry(s) or now.date()) > now.date()]
            if len(listed) >= 2:
                q1, q2 = md.quote(listed[0].con_id), md.quote(listed[1].con_id)
                v1, v2 = (q1.value() if q1 else None), (q2.value() if q2 else None)
                if v1 and v2:
                    self.history.observe("ratio", v1 / v2, now)
