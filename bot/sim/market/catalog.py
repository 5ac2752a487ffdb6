"""The contract catalog: every instrument the simulator knows, built lazily, with collision-free conIds.

conIds are an injective encoding of a contract's defining fields (never a hash, so two contracts can never share
one): indices and VIXY have fixed ids; futures are 600,000,000 + root * 100,000 + months since year 0; options are
2**30 + an encoding of (trading class, expiry day, right, strike step) that fits below 2**31 (IB's int32 range).
Option chains hold thousands of strikes, so option Instruments are built only when asked for.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from functools import lru_cache

from bot.sim.market import calendar as cal
from bot.sim.market import hours
from bot.sim.market.api import Instrument, tick_size
from bot.vx_calendar import MONTH_CODES, vx_expiry

INDEX_NAMES = {
    "SPX": "S&P 500 Stock Index",
    "VIX": "CBOE Volatility Index",
    "VIX3M": "CBOE S&P 500 3-Month Volatility Index",
    "VIX9D": "CBOE S&P 500 9-Day Volatility Index",
}
__all__ = ["tick_size"]  # re-exported: catalog users get the tick rule from the contract module

FIXED_IDS = {"SPX": 10_001, "VIX": 10_002, "VIX3M": 10_003, "VIX9D": 10_004, "VIXY": 10_005}
_FIXED_BY_ID = {v: k for k, v in FIXED_IDS.items()}

FUT_BASE = 600_000_000
FUT_ROOTS = ("VX", "VXM")  # trading classes; IB symbol is "VIX" for VX and "VXM" for the mini
FUT_SYMBOL = {"VX": "VIX", "VXM": "VXM"}
FUT_MULT = {"VX": "1000", "VXM": "100"}
# Cboe/CFE specs: VX trades in 0.05 index points; Mini VIX (VXM) in 0.01 (Cboe VXM spec, also LEAN/moomoo listings).
FUT_TICK = {"VX": 0.05, "VXM": 0.01}

OPT_BASE = 1 << 30
OPT_CLASSES = ("SPX", "SPXW", "VIX")
_EPOCH = dt.date(2000, 1, 1)
_DAY_BITS = 1 << 14  # expiry days since 2000-01-01, through 2044
_STRIKE_SLOTS = 1 << 12
STRIKE_STEP = {"SPX": 5.0, "SPXW": 5.0, "VIX": 0.5}  # the encoding granularity, not the listed spacing


@dataclass(frozen=True, slots=True)
class FutKey:
    root: str  # "VX" or "VXM"
    year: int
    month: int

    @property
    def expiry(self) -> dt.date:
        return vx_expiry(self.year, self.month)


@dataclass(frozen=True, slots=True)
class OptKey:
    trading_class: str  # "SPX", "SPXW", "VIX"
    expiry: dt.date
    right: str
    strike: float


Key = str | FutKey | OptKey  # str: "SPX", "VIX", "VIX3M", "VIX9D", "VIXY"


class CatalogError(ValueError):
    """A contract that cannot exist (bad strike step, unknown class, out-of-range date)."""


def fut_con_id(key: FutKey) -> int:
    return FUT_BASE + FUT_ROOTS.index(key.root) * 100_000 + key.year * 12 + key.month - 1


def opt_con_id(key: OptKey) -> int:
    days = (key.expiry - _EPOCH).days
    step = STRIKE_STEP[key.trading_class]
    slot = round(key.strike / step)
    if not (0 <= days < _DAY_BITS) or abs(slot * step - key.strike) > 1e-9 or not (0 < slot < _STRIKE_SLOTS):
        raise CatalogError(f"option {key} cannot be encoded (expiry 2000..2044, strike a multiple of {step})")
    code = ((OPT_CLASSES.index(key.trading_class) * _DAY_BITS + days) * 2 + (key.right == "C")) * _STRIKE_SLOTS + slot
    return OPT_BASE + code


def con_id_of(key: Key) -> int:
    if isinstance(key, str):
        return FIXED_IDS[key]
    return fut_con_id(key) if isinstance(key, FutKey) else opt_con_id(key)


@lru_cache(maxsize=65_536)
def key_of(con_id: int) -> Key | None:
    """Inverse of con_id_of; None for ids this catalog never issues."""
    if con_id in _FIXED_BY_ID:
        return _FIXED_BY_ID[con_id]
    if FUT_BASE <= con_id < FUT_BASE + len(FUT_ROOTS) * 100_000:
        root_i, months = divmod(con_id - FUT_BASE, 100_000)
        year, m0 = divmod(months, 12)
        return FutKey(FUT_ROOTS[root_i], year, m0 + 1) if 2000 <= year <= 2100 else None
    if OPT_BASE <= con_id < 1 << 31:
        code = con_id - OPT_BASE
        rest, slot = divmod(code, _STRIKE_SLOTS)
        rest, is_call = divmod(rest, 2)
        cls_i, days = divmod(rest, _DAY_BITS)
        if cls_i >= len(OPT_CLASSES) or slot == 0:
            return None
        cls = OPT_CLASSES[cls_i]
        return OptKey(cls, _EPOCH + dt.timedelta(days=days), "C" if is_call else "P", slot * STRIKE_STEP[cls])
    return None


def venue_of(key: Key) -> str:
    if isinstance(key, FutKey):
        return "cfe"
    return "stock" if key == "VIXY" else "cboe"


def fut_local_symbol(key: FutKey) -> str:
    """IB shows VX futures with a one-digit year, e.g. VXH8 (VX) and VXMH8 (mini)."""
    return f"{key.root}{MONTH_CODES[key.month - 1]}{key.year % 10}"


def opt_local_symbol(key: OptKey) -> str:
    """OCC symbol as IB shows it: root padded to 6, YYMMDD, right, strike x 1000 in 8 digits."""
    return f"{key.trading_class:<6}{key.expiry:%y%m%d}{key.right}{round(key.strike * 1000):08d}"


_OCC = re.compile(r"^([A-Z]{1,6})\s*(\d{6})([CP])(\d{8})$")
_FUT = re.compile(r"^(VXM|VX)([FGHJKMNQUVXZ])(\d{1,2})$")


def parse_local_symbol(text: str, day: dt.date) -> Key | None:
    """A key from an IB local symbol; a one-digit futures year means the first such contract from `day`'s month."""
    text = text.strip().upper()
    if text in FIXED_IDS:
        return text
    m = _FUT.match(text)
    if m:
        root, code, yy = m.group(1), m.group(2), m.group(3)
        month = MONTH_CODES.index(code) + 1
        if len(yy) == 2:
            return FutKey(root, 2000 + int(yy), month)
        base = day.year - day.year % 10 + int(yy)
        now = day.year * 12 + day.month - 1  # the earliest contract month that can still be live
        year = min(y for y in (base - 10, base, base + 10) if y * 12 + month >= now)
        return FutKey(root, year, month)
    m = _OCC.match(text)
    if m and m.group(1) in OPT_CLASSES:
        try:
            expiry = dt.datetime.strptime(m.group(2), "%y%m%d").date()
        except ValueError:
            return None
        return OptKey(m.group(1), expiry, m.group(3), int(m.group(4)) / 1000)
    return None


@lru_cache(maxsize=200_000)
def instrument(key: Key) -> Instrument:
    """The Instrument for a key, without hours (the model fills trading/liquid hours for the asked instant)."""
    con_id = con_id_of(key)
    tz = hours.time_zone_id(venue_of(key))
    if isinstance(key, str):
        if key == "VIXY":
            return Instrument(
                con_id,
                "VIXY",
                "STK",
                "SMART",
                primary_exchange="ARCA",
                min_tick=0.01,
                local_symbol="VIXY",
                trading_class="VIXY",
                long_name="PROSHARES VIX SHORT-TERM FUTURES ETF",
                market_name="NMS",
                time_zone_id=tz,
                valid_exchanges="SMART,ARCA,BATS,NYSE,ISLAND",
                order_types="LMT,MKT,STP",
            )
        return Instrument(
            con_id,
            key,
            "IND",
            "CBOE",
            min_tick=0.01,
            local_symbol=key,
            long_name=INDEX_NAMES[key],
            market_name=key,
            time_zone_id=tz,
            valid_exchanges="CBOE",
            order_types="",
        )
    if isinstance(key, FutKey):
        expiry = key.expiry
        return Instrument(
            con_id,
            FUT_SYMBOL[key.root],
            "FUT",
            "CFE",
            last_trade_date=f"{expiry:%Y%m%d}",
            multiplier=FUT_MULT[key.root],
            local_symbol=fut_local_symbol(key),
            trading_class=key.root,
            min_tick=FUT_TICK[key.root],
            long_name="Cboe Volatility Index" + (" Mini" if key.root == "VXM" else ""),
            market_name=key.root,
            contract_month=f"{key.year}{key.month:02d}",
            under_con_id=FIXED_IDS["VIX"],
            under_symbol="VIX",
            under_sec_type="IND",
            time_zone_id=tz,
            valid_exchanges="CFE",
            real_expiration_date=f"{expiry:%Y%m%d}",
        )
    symbol = "VIX" if key.trading_class == "VIX" else "SPX"
    # SPX: 0.05 below 3.00, 0.10 above; VIX options: 0.01 below 3.00, 0.05 above (Cboe); min_tick is the smallest.
    return Instrument(
        con_id,
        symbol,
        "OPT",
        "SMART",
        last_trade_date=f"{key.expiry:%Y%m%d}",
        strike=key.strike,
        right=key.right,
        multiplier="100",
        local_symbol=opt_local_symbol(key),
        trading_class=key.trading_class,
        min_tick=0.01 if symbol == "VIX" else 0.05,
        long_name=INDEX_NAMES[symbol],
        market_name=key.trading_class,
        contract_month=f"{key.expiry:%Y%m}",
        under_con_id=FIXED_IDS[symbol],
        under_symbol=symbol,
        under_sec_type="IND",
        time_zone_id=tz,
        valid_exchanges="SMART,CBOE",
        real_expiration_date=f"{key.expiry:%Y%m%d}",
    )


def with_hours(inst: Instrument, venue: str, t: dt.datetime, exchange: str = "") -> Instrument:
    """A copy carrying IB trading/liquid hours from t's date (and the exchange the client asked for, if valid)."""
    ex = exchange if exchange and exchange in inst.valid_exchanges.split(",") else inst.exchange
    return replace(
        inst,
        exchange=ex,
        trading_hours=hours.ib_hours(venue, t),
        liquid_hours=hours.ib_hours(venue, t, liquid=True),
    )


# ---- listing rules --------------------------------------------------------------------------------------------


def _at(day: dt.date, hour: int, minute: int, tz) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).astimezone(dt.UTC)


@lru_cache(maxsize=100_000)
def trading_stop(key: FutKey | OptKey) -> dt.datetime:
    """The instant after which the contract no longer trades."""
    if isinstance(key, FutKey):
        return _at(key.expiry, 8, 0, hours.CT)  # expiring VX stops at 08:00 CT on the final settlement date
    if key.trading_class == "SPXW":
        session = hours.session_on("stock", key.expiry)
        return session.liquid_close if session else _at(key.expiry, 16, 0, hours.ET)
    previous = hours.last_close_before("cboe", _at(key.expiry, 0, 0, hours.ET), liquid=False)
    assert previous is not None
    return previous.close  # AM-settled (SPX monthlies, VIX options): last trade the session before expiry


@lru_cache(maxsize=100_000)
def settlement_instant(key: FutKey | OptKey) -> dt.datetime:
    """When the final settlement value is fixed: the opening print (AM) or the 16:00 ET close (SPXW)."""
    session = hours.session_on("stock", key.expiry)
    if isinstance(key, OptKey) and key.trading_class == "SPXW":
        return session.liquid_close if session else _at(key.expiry, 16, 0, hours.ET)
    return session.liquid_open if session else _at(key.expiry, 9, 30, hours.ET)


def listed_futures(root: str, t: dt.datetime, count: int) -> list[FutKey]:
    day = t.astimezone(hours.ET).date()
    keys = [FutKey(root, y, m) for y, m in cal.vx_months(day, count + 1)]
    return [k for k in keys if t < trading_stop(k)][:count]


def listed_expiries(trading_class: str, t: dt.datetime) -> list[dt.date]:
    day = t.astimezone(hours.ET).date()
    if trading_class == "SPX":
        dates = cal.spx_expiries(day)
    elif trading_class == "SPXW":
        dates = cal.spxw_expiries(day)
    else:
        dates = cal.vix_option_expiries(day)
    return [d for d in dates if t < trading_stop(OptKey(trading_class, d, "C", 10.0))]


def front_two(root: str, t: dt.datetime) -> tuple[FutKey, FutKey]:
    """F1 and F2 at t: the two nearest contracts whose final settlement is still ahead."""
    day = t.astimezone(hours.ET).date()
    keys = [FutKey(root, y, m) for y, m in cal.vx_months(day, 4)]
    live = [k for k in keys if settlement_instant(k) > t]
    return live[0], live[1]
