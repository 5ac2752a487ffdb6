"""Pre-trade risk checks with reason codes, trading state, and the anomaly monitor that halts automatically.

`check_intent` is a pure function of an intent, a snapshot (`RiskContext`) and the settings: the engine builds the
snapshot (quote, positions, account values, orders sent today, trading state) and gets back every reason the intent
may not be sent, so a denial is explained in full rather than by the first failing rule. It fails closed: missing
or malformed inputs deny. `AnomalyMonitor` is the small stateful part (rejections in a window, stale data, hedge
positions that moved without fills) and only *reports* halt reasons; the engine journals them and sets the state.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache, lru_cache
from typing import TYPE_CHECKING

from bot.account_guard import check_account
from bot.domain.intents import HedgeKind, Intent, Side
from bot.settings.risk import RiskSettings

if TYPE_CHECKING:
    import exchange_calendars as xcals

MULTIPLIERS: dict[HedgeKind, float] = {
    HedgeKind.VX: 1000.0,
    HedgeKind.VXM: 100.0,
    HedgeKind.VIXY: 1.0,
    HedgeKind.VIX_OPTION: 100.0,
}
EXCHANGE_CALENDAR: dict[HedgeKind, str] = {
    HedgeKind.VX: "XCBF",  # Cboe Futures Exchange
    HedgeKind.VXM: "XCBF",
    HedgeKind.VIX_OPTION: "XCBF",  # VIX options (CBOE) keep the same regular hours as CFE in exchange_calendars
    HedgeKind.VIXY: "XNYS",  # ETF: NYSE regular hours
}


class TradingState(StrEnum):
    ACTIVE = "active"
    REDUCING = "reducing"  # only intents with opens_position=False pass
    HALTED = "halted"  # nothing passes


class RiskCode(StrEnum):
    TRADING_HALTED = "trading_halted"
    REDUCING_ONLY = "reducing_only"
    ACCOUNT_MODE = "account_mode"
    INVALID_INTENT = "invalid_intent"
    POSITION_CAP = "position_cap"
    ORDER_NOTIONAL = "order_notional"
    PREMIUM_BUDGET = "premium_budget"
    ORDERS_PER_DAY = "orders_per_day"
    NO_QUOTE = "no_quote"
    QUOTE_INVALID = "quote_invalid"
    QUOTE_STALE = "quote_stale"
    SPREAD_TOO_WIDE = "spread_too_wide"
    PRICE_COLLAR = "price_collar"
    MARKET_CLOSED = "market_closed"
    UNCOVERED_SHORT_CALL = "uncovered_short_call"


@dataclass(frozen=True, slots=True)
class Quote:
    bid: float | None
    ask: float | None
    at: dt.datetime  # when the quote was last updated (market clock, timezone-aware)

    @property
    def mid(self) -> float | None:
        return (self.bid + self.ask) / 2 if self.is_valid() else None  # type: ignore[operator]

    def is_valid(self) -> bool:
        """Two finite positive sides, not crossed (IB sends -1 and 0 for 'no price')."""
        b, a = self.bid, self.ask
        return b is not None and a is not None and math.isfinite(b) and math.isfinite(a) and 0 < b <= a


@dataclass(frozen=True, slots=True)
class RiskContext:
    """Everything the checks read, captured at one instant by the engine."""

    now: dt.datetime  # market clock, timezone-aware
    mode: str
    account: str | None  # the account the guard chose
    live_flag: bool
    live_account: str | None
    trading_state: TradingState
    quote: Quote | None
    positions: Mapping[str, int] = field(default_factory=dict)  # HedgeInstrument.key -> signed quantity
    net_liquidation: float | None = None  # USD
    long_option_premium: float = 0.0  # USD market value of long VIX options already held
    orders_today: int = 0  # orders sent today (journal.orders_sent_on)
    # signed quantities other intents may still trade (in flight, or accepted earlier in the same cycle): the call
    # cover check assumes their sells fill and their buys do not
    pending: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Denial:
    code: RiskCode
    message: str


@dataclass(frozen=True, slots=True)
class RiskDecision:
    denials: tuple[Denial, ...]

    @property
    def accepted(self) -> bool:
        return not self.denials

    @property
    def codes(self) -> tuple[RiskCode, ...]:
        return tuple(d.code for d in self.denials)

    def explain(self) -> str:
        return "accepted" if self.accepted else "; ".join(f"{d.code.value}: {d.message}" for d in self.denials)


def position_cap(kind: HedgeKind, settings: RiskSettings, mode: str) -> int:
    cap = {
        HedgeKind.VX: settings.max_vx_contracts,
        HedgeKind.VXM: settings.max_vxm_contracts,
        HedgeKind.VIXY: settings.max_vixy_shares,
        HedgeKind.VIX_OPTION: settings.max_vix_option_contracts,
    }[kind]
    return int(cap * settings.live_cap_factor) if mode == "live" else cap


def _scaled(value: float, settings: RiskSettings, mode: str) -> float:
    return value * settings.live_cap_factor if mode == "live" else value


def check_intent(intent: Intent, ctx: RiskContext, settings: RiskSettings) -> RiskDecision:
    """Every reason `intent` may not be sent now; an empty tuple of denials means accepted."""
    out: list[Denial] = []
    deny = lambda code, msg: out.append(Denial(code, msg))  # noqa: E731

    if ctx.trading_state is TradingState.HALTED:
        deny(RiskCode.TRADING_HALTED, "trading is halted; `alvh resume` after fixing the cause")
    elif ctx.trading_state is TradingState.REDUCING and intent.opens_position:
        deny(RiskCode.REDUCING_ONLY, "trading state is reducing: only position-reducing intents may be sent")

    guard = check_account(
        ctx.mode, [ctx.account] if ctx.account else [], live_flag=ctx.live_flag, live_account=ctx.live_account
    )
    if not guard.may_send:
        deny(RiskCode.ACCOUNT_MODE, guard.message)

    if intent.quantity <= 0 or intent.instrument.kind not in MULTIPLIERS:
        deny(RiskCode.INVALID_INTENT, f"quantity must be a positive whole number, got {intent.quantity}")
        return RiskDecision(tuple(out))

    kind = intent.instrument.kind
    signed = intent.side.signed(intent.quantity)
    held = int(ctx.positions.get(intent.instrument.key, 0))
    after = held + signed
    cap = position_cap(kind, settings, ctx.mode)
    if abs(after) > abs(held) and abs(after) > cap:
        deny(RiskCode.POSITION_CAP, f"{intent.instrument.key} position would be {after}, cap is {cap}")

    quote = ctx.quote
    price = _order_price(intent, quote)
    if quote is None:
        deny(RiskCode.NO_QUOTE, f"no quote for {intent.instrument.key}")
    elif not quote.is_valid():
        deny(RiskCode.QUOTE_INVALID, f"unusable quote bid={quote.bid} ask={quote.ask} (missing, zero or crossed)")
    else:
        age = (ctx.now - quote.at).total_seconds()
        if age > settings.max_quote_age_s:
            deny(RiskCode.QUOTE_STALE, f"quote is {age:.0f} s old, limit {settings.max_quote_age_s:g} s")
        _check_collar(intent, quote, settings, deny)

    if price is not None:
        notional = intent.quantity * price * MULTIPLIERS[kind]
        limit = _scaled(settings.max_order_notional_usd, settings, ctx.mode)
        if notional > limit:
            deny(RiskCode.ORDER_NOTIONAL, f"order notional ${notional:,.0f} exceeds ${limit:,.0f}")
        if kind is HedgeKind.VIX_OPTION and intent.side is Side.BUY and intent.opens_position:
            _check_premium(notional, ctx, settings, deny)

    if intent.side is Side.SELL and _gives_or_needs_call_cover(intent):
        _check_calls_covered(intent, ctx, deny)

    max_orders = int(_scaled(settings.max_orders_per_day, settings, ctx.mode))
    if ctx.orders_today + 1 > max_orders:
        deny(RiskCode.ORDERS_PER_DAY, f"{ctx.orders_today} orders sent today, limit {max_orders}")

    if settings.require_trading_hours:
        open_, why = market_open(kind, ctx.now)
        if not open_:
            deny(RiskCode.MARKET_CLOSED, why)
    return RiskDecision(tuple(out))


CALLS_COVERED_PER_LONG = {"VX": 10, "VXM": 1, "VIX_OPTION": 1}  # $1000/pt VX = 10 x $100/pt calls


def _gives_or_needs_call_cover(intent: Intent) -> bool:
    """VX, VXM and long VIX calls cover short calls; a VIX call sale may need cover. Selling any of them is checked."""
    kind = intent.instrument.kind
    return kind in (HedgeKind.VX, HedgeKind.VXM) or (kind is HedgeKind.VIX_OPTION and intent.instrument.right == "C")


def _check_calls_covered(intent: Intent, ctx: RiskContext, deny) -> None:
    """Short VIX calls of one expiry may never exceed what the HELD longs of that expiry cover, this order included.

    Checked against positions at send time, not against the plan: a call spread or an overwrite is planned as
    separate intents, and if the covering buy did not fill, the sell must not go out naked. The same holds for
    selling the cover itself (a harvest or an unwind): the short calls must be bought back first. Other intents that
    may still trade count at their worst: their sells as filled, their buys as not.
    """
    expiry = intent.instrument.expiry.isoformat() if intent.instrument.expiry else None
    after = dict(ctx.positions)
    for key, quantity in ctx.pending.items():
        if quantity < 0:
            after[key] = int(after.get(key, 0)) + int(quantity)
    after[intent.instrument.key] = int(after.get(intent.instrument.key, 0)) - intent.quantity
    short_calls = cover = 0
    for key, quantity in after.items():
        kind, _, rest = key.partition(":")
        if expiry is None or not rest.startswith(expiry) or kind not in CALLS_COVERED_PER_LONG:
            continue
        if kind == "VIX_OPTION" and not rest.startswith(f"{expiry}:C:"):
            continue  # puts neither need nor give call cover
        if quantity > 0:
            cover += CALLS_COVERED_PER_LONG[kind] * int(quantity)
        elif kind == "VIX_OPTION":
            short_calls += -int(quantity)
    if short_calls > cover:
        deny(
            RiskCode.UNCOVERED_SHORT_CALL,
            f"{short_calls} short VIX calls expiring {expiry} after this order, held longs cover {cover} "
            f"(10 per VX, 1 per VXM or long call); {_cover_fix(intent, ctx)}",
        )


def _cover_fix(intent: Intent, ctx: RiskContext) -> str:
    """Writing a call needs cover bought first; selling cover (futures, or a long call) needs the shorts closed."""
    opening_short = intent.instrument.kind is HedgeKind.VIX_OPTION and ctx.positions.get(intent.instrument.key, 0) <= 0
    return "buy the cover first" if opening_short else "buy back the short calls first"


def _order_price(intent: Intent, quote: Quote | None) -> float | None:
    """The worst price the order may trade at: its limit, or the far side when the intent leaves pricing open."""
    if intent.price is not None:
        return intent.price.limit
    if quote is not None and quote.is_valid():
        return quote.ask if intent.side is Side.BUY else quote.bid
    return None


def _check_collar(intent: Intent, quote: Quote, settings: RiskSettings, deny) -> None:
    mid = quote.mid
    assert mid is not None
    spread_pct = (quote.ask - quote.bid) / mid * 100  # type: ignore[operator]
    if spread_pct > settings.max_spread_pct:
        deny(RiskCode.SPREAD_TOO_WIDE, f"spread {spread_pct:.1f}% of mid exceeds {settings.max_spread_pct:g}%")
    if intent.price is None:
        return
    limit = intent.price.limit
    slack = settings.collar_beyond_far_pct / 100 * mid
    if not math.isfinite(limit) or limit <= 0:
        deny(RiskCode.PRICE_COLLAR, f"limit {limit} is not a positive price")
    elif intent.side is Side.BUY and limit > quote.ask + slack:  # type: ignore[operator]
        deny(RiskCode.PRICE_COLLAR, f"buy limit {limit:g} is above ask {quote.ask:g} + {slack:.4g} collar")
    elif intent.side is Side.SELL and limit < quote.bid - slack:  # type: ignore[operator]
        deny(RiskCode.PRICE_COLLAR, f"sell limit {limit:g} is below bid {quote.bid:g} - {slack:.4g} collar")


def _check_premium(cost: float, ctx: RiskContext, settings: RiskSettings, deny) -> None:
    nlv = ctx.net_liquidation
    if nlv is None or not math.isfinite(nlv) or nlv <= 0:
        deny(RiskCode.PREMIUM_BUDGET, "net liquidation unknown: no option premium may be bought")
        return
    budget = settings.premium_budget_pct_nlv / 100 * nlv
    total = ctx.long_option_premium + cost
    if total > budget:
        deny(
            RiskCode.PREMIUM_BUDGET,
            f"long option premium would be ${total:,.0f}, budget {settings.premium_budget_pct_nlv:g}% of "
            f"net liquidation = ${budget:,.0f}",
        )


@cache
def _calendar(name: str) -> xcals.ExchangeCalendar:
    # Imported here: exchange_calendars and pandas take ~0.3 s to import, and the operator commands (`alvh pending`,
    # `alvh approve`) need TradingState from this module but never a calendar.
    import exchange_calendars

    return exchange_calendars.get_calendar(name, start="2000-01-01")


def market_open(kind: HedgeKind, at: dt.datetime) -> tuple[bool, str]:
    """(open?, explanation) for the regular session of the instrument's exchange at instant `at`.

    Reads the session's open, close and break times, not `is_open_on_minute`: that builds an index of every trading
    minute since 2000, about 95 MB resident for the bot's whole life, to answer one comparison. The times come from
    the calendar once per session day (`_session_times`), so a call on the order path is a few datetime comparisons
    rather than pandas Timestamp arithmetic and calendar lookups (~0.2 ms).
    """
    name = EXCHANGE_CALENDAR[kind]
    if at.tzinfo is None:
        return False, "timestamp has no timezone; cannot check trading hours"
    tz, first, last = _calendar_bounds(name)
    minute = at.astimezone(dt.UTC).replace(second=0, microsecond=0)
    local_day = minute.astimezone(tz).date()
    if not first <= local_day <= last:
        return False, f"{minute:%Y-%m-%d %H:%M} UTC is outside the {name} calendar's range"
    if _in_session(name, local_day, minute):
        return True, f"{name} open"
    return False, f"{name} is closed at {minute:%Y-%m-%d %H:%M} UTC ({kind.value})"


SessionTimes = tuple[dt.datetime, dt.datetime, dt.datetime | None, dt.datetime | None]  # open, close, break (UTC)


@cache
def _calendar_bounds(name: str) -> tuple[dt.tzinfo, dt.date, dt.date]:
    """The calendar's timezone and its first and last session days."""
    cal = _calendar(name)
    return cal.tz, cal.first_session.date(), cal.last_session.date()


def _in_session(name: str, local_day: dt.date, minute: dt.datetime) -> bool:
    """Whether `minute` (UTC, floored) lies in a session of calendar `name`: [open, close), outside any lunch break
    (the calendar's default "left" side: the open minute trades, the close minute does not).

    The local date's session and the next day's are both tried: a session is labelled by the date it closes on, and
    some calendars open it the evening before.
    """
    for day in (local_day, local_day + dt.timedelta(days=1)):
        times = _session_times(name, day)
        if times is None:
            continue
        open_, close, break_start, break_end = times
        if not open_ <= minute < close:
            continue
        if break_start is None or break_end is None or not break_start <= minute < break_end:
            return True
    return False


@lru_cache(maxsize=64)
def _session_times(name: str, day: dt.date) -> SessionTimes | None:
    """The calendar's open, close and break times of session `day` as UTC datetimes, None if `day` is no session.

    Asked for the same few days all session long, hence cached; the calendar stays the only source of the hours.
    A day outside the calendar's range has no session here (the caller refuses those instants first).
    """
    import pandas as pd

    cal = _calendar(name)
    label = pd.Timestamp(day)
    if not cal.first_session <= label <= cal.last_session or not cal.is_session(label):
        return None
    start, end = cal.session_break_start(label), cal.session_break_end(label)
    no_break = pd.isna(start) or pd.isna(end)
    return (
        cal.session_open(label).to_pydatetime(),
        cal.session_close(label).to_pydatetime(),
        None if no_break else start.to_pydatetime(),
        None if no_break else end.to_pydatetime(),
    )


@dataclass(frozen=True, slots=True)
class HaltReason:
    code: str  # "repeated_rejections", "stale_data", "position_mismatch"
    message: str


class AnomalyMonitor:
    """Watches for the conditions that must stop trading without a person: the engine feeds it, and on a returned
    HaltReason journals it and sets HALTED (resume is always a person's `alvh resume`)."""

    def __init__(self, settings: RiskSettings) -> None:
        self._settings = settings
        self._rejections: deque[dt.datetime] = deque()
        self._expected: dict[str, int] = {}

    def on_rejection(self, at: dt.datetime) -> HaltReason | None:
        self._rejections.append(at)
        window = dt.timedelta(seconds=self._settings.rejection_window_s)
        while self._rejections and at - self._rejections[0] > window:
            self._rejections.popleft()
        n = len(self._rejections)
        if n >= self._settings.halt_after_rejections:
            return HaltReason(
                "repeated_rejections", f"{n} orders rejected within {self._settings.rejection_window_s:g} s"
            )
        return None

    def check_staleness(
        self, now: dt.datetime, last_quote_at: dt.datetime | None, market_is_open: bool
    ) -> HaltReason | None:
        """Stale market data only matters while the market is open (no ticks overnight is normal)."""
        if not market_is_open:
            return None
        if last_quote_at is None:
            return HaltReason("stale_data", "no VIX quote received while the market is open")
        age = (now - last_quote_at).total_seconds()
        if age > self._settings.halt_on_stale_data_s:
            return HaltReason(
                "stale_data", f"VIX quote is {age:.0f} s old (limit {self._settings.halt_on_stale_data_s:g} s)"
            )
        return None

    def rebase(self, positions: Mapping[str, int]) -> None:
        """Accept broker positions as the new expectation (after start-up reconciliation)."""
        self._expected = {k: int(v) for k, v in positions.items() if v}

    def on_fill(self, instrument_key: str, side: Side, quantity: int) -> None:
        self._expected[instrument_key] = self._expected.get(instrument_key, 0) + side.signed(quantity)

    @property
    def expected(self) -> dict[str, int]:
        return {k: v for k, v in self._expected.items() if v}

    def check_positions(self, actual: Mapping[str, int]) -> HaltReason | None:
        """Hedge positions that changed without fills the bot saw (someone traded by hand, or a fill was lost)."""
        diffs = position_mismatches(self._expected, actual, self._settings.position_mismatch_tolerance)
        if diffs:
            shown = ", ".join(f"{k}: expected {e}, broker {a}" for k, e, a in diffs)
            return HaltReason("position_mismatch", f"hedge positions differ from the journal: {shown}")
        return None


def position_mismatches(
    expected: Mapping[str, int], actual: Mapping[str, int], tolerance: int = 0
) -> list[tuple[str, int, int]]:
    """(instrument, expected, actual) for every instrument where |actual - expected| > tolerance."""
    keys = sorted(set(expected) | set(actual))
    rows = [(k, int(expected.get(k, 0)), int(actual.get(k, 0))) for k in keys]
    return [(k, e, a) for k, e, a in rows if abs(a - e) > tolerance]
