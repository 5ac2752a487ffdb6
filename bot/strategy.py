"""`decide`: the one decision function the live engine, the simulator runs and the backtest all call.

snapshot + state + history -> book -> signal inputs -> votes -> layer step -> sizing -> plan -> carry check ->
cash press -> Decision (intents, next state, record). Pure: `now` is `snapshot.now`, nothing is read or written.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import partial

from bot.book import read_book
from bot.decision import Decision, DecisionRecord
from bot.domain.layers import Alert, LayerId
from bot.domain.market import MarketSnapshot, Quote
from bot.domain.state import StrategyState
from bot.layers import step_layers
from bot.planner import flat_layers, plan
from bot.settings.book import BookSettings
from bot.settings.layers import LayerSettings
from bot.settings.signals import SignalSettings
from bot.settings.sizing import SizingSettings
from bot.signals.evaluate import evaluate_signals
from bot.signals.inputs import Breadth, DailySeries, ExternalSeries, MacroCalendar, SignalInputs, Timed
from bot.sizing import HOLDING, Betas, carry_check, cash_press, estimate_betas, size_layers


@dataclass(frozen=True, slots=True)
class CoreSettings:
    """The configuration sections the strategy core reads."""

    book: BookSettings = field(default_factory=BookSettings)
    signals: SignalSettings = field(default_factory=SignalSettings)
    layers: LayerSettings = field(default_factory=LayerSettings)
    sizing: SizingSettings = field(default_factory=SizingSettings)

    @classmethod
    def from_config(cls, config: object) -> CoreSettings:
        """From an `AppConfig` (typed loosely to keep this module free of the config loader's imports)."""
        return cls(config.book, config.signals, config.layers, config.sizing)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class History:
    """Daily history (completed days, oldest first) and files the signals and betas read.

    `f1`/`f2` are daily settles of the contract that was F1/F2 on each day (continuous by position); `vixy` is
    VIXY's daily close. `betas`, when given, is used as is (the live engine fits them once a day); otherwise they
    are fitted here from the series, with configured fallbacks when history is short or the fit is poor.
    """

    vix: DailySeries = field(default_factory=DailySeries.empty)
    ratio: DailySeries = field(default_factory=DailySeries.empty)  # F1/F2 (or VIX/VIX3M) daily closes
    f1: DailySeries = field(default_factory=DailySeries.empty)
    f2: DailySeries = field(default_factory=DailySeries.empty)
    vixy: DailySeries = field(default_factory=DailySeries.empty)
    macro: MacroCalendar = field(default_factory=MacroCalendar)
    breadth: Breadth | None = None
    externals: tuple[ExternalSeries, ...] = ()
    betas: Betas | None = None


def _timed(q: Quote | None) -> Timed | None:
    """A quote as the signals see it: its best value (NaN when none, so the signal abstains) and its time."""
    if q is None or q.at is None:
        return None
    value = q.value()
    return Timed(value if value is not None else float("nan"), q.at)


def signal_inputs(snapshot: MarketSnapshot, history: History) -> SignalInputs:
    today = snapshot.today
    f1 = snapshot.curve.nth(today, 1)
    f2 = snapshot.curve.nth(today, 2)
    return SignalInputs(
        now=snapshot.now,
        vix=_timed(snapshot.vix),
        vix3m=_timed(snapshot.vix3m),
        vix9d=_timed(snapshot.vix9d),
        f1=_timed(f1.quote) if f1 else None,
        f2=_timed(f2.quote) if f2 else None,
        f1_dte_days=float(f1.dte(today)) if f1 else None,
        vix_history=history.vix,
        ratio_history=history.ratio,
        macro=history.macro,
        breadth=history.breadth,
        externals=history.externals,
    )


def decide(snapshot: MarketSnapshot, state: StrategyState, history: History, settings: CoreSettings) -> Decision:
    """One decision at `snapshot.now`. Never raises on bad market data: missing, stale or non-finite values make
    the affected vote or size abstain and appear as alerts in the record."""
    now: dt.datetime = snapshot.now
    book = read_book(snapshot, settings.book)
    votes, memory = evaluate_signals(signal_inputs(snapshot, history), state.memory, settings.signals)
    step = step_layers(state.layers, votes, now, settings.layers, flat_layers(snapshot, settings.sizing))
    layers = step.book
    if history.betas is not None:
        betas = history.betas
    else:  # fitted only if read: sizing reads them while a layer holds a hedge, the record when it is serialised
        betas = Betas.on_read(
            partial(estimate_betas, history.vix, history.f1, history.f2, history.vixy, settings.sizing)
        )
    sizing = size_layers(layers, book, snapshot, betas, settings.sizing, state.mid_curve_fraction)
    the_plan = plan(layers, sizing, snapshot, votes, settings.sizing)
    layers = the_plan.layers  # with layer 1's hedge kind recorded by the planner, carried to the next decision
    carry = carry_check(the_plan.target_book().items(), book, snapshot, settings.sizing)
    alerts: list[Alert] = [Alert("greeks_unknown", why) for why in book.unknown]
    alerts += [*step.alerts, *sizing.alerts, *the_plan.alerts]
    intents = the_plan.intents
    if carry.within_budget is False:
        message = (
            f"hedge carry ${-(carry.monthly_carry_usd or 0.0):,.0f}/month exceeds the budget "
            f"${carry.budget_usd or 0.0:,.0f}/month"
        )
        if settings.sizing.carry_budget_enforced:
            # rolls keep both halves: dropping the open of a roll would leave the hedge closed, not cheaper
            intents = tuple(i for i in intents if not i.opens_position or (i.group or "").startswith("roll-"))
            message += ": opening intents dropped (rolls kept)"
        alerts.append(Alert("carry_over_budget", message))
    regime = layers.regime
    press = cash_press(book, state.harvested_cash_usd, state.realized_hedge_pnl_usd, regime)
    holding_l2 = layers.get(LayerId.MID_CURVE).phase in HOLDING
    new_state = StrategyState(
        layers=layers,
        memory=memory,
        harvested_cash_usd=state.harvested_cash_usd,
        realized_hedge_pnl_usd=state.realized_hedge_pnl_usd,
        mid_curve_fraction=sizing.mid_curve_fraction if holding_l2 else 0.0,
        last_plan_ids=tuple(i.id for i in intents),
    )
    record = DecisionRecord(
        at=now,
        snapshot=snapshot,
        book=book,
        votes=votes,
        transitions=step.transitions,
        sizing=sizing,
        plan=the_plan,
        intents=intents,
        carry=carry,
        cash_press=press,
        regime=regime,
        alerts=tuple(alerts),
        state_after=new_state,
    )
    return Decision(intents=intents, state=new_state, record=record)
