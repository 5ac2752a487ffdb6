"""Replay of real daily history (the `../shared/data` CSV formats) with intraday interpolation between closes.

Each series is anchored at its real close instant (VIX family and VX at 16:15 ET, SPX and VIXY at 16:00 ET): the
value stays at the previous close until the session opens, then moves linearly to the day's close, so a 20,000x
clock sees smooth ticks and the closes are reproduced exactly. VX contracts are the real ones (settles); a contract
the data does not cover yet is priced by the curve model from VIX (curve.py). VIXY is rebased by its real returns to
SimSettings.vixy_start at the replay start. Nothing here is tuned to a date window.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from bot.settings.sim import SimSettings
from bot.sim.market import hours
from bot.sim.market.api import Bar
from bot.sim.market.catalog import FutKey, OptKey, settlement_instant
from bot.sim.market.curve import DAYS_PER_YEAR, future_price, vol_index
from bot.vx_calendar import MONTH_CODES

FILES = {
    "vix": (
        "vix_family_daily.csv",
        ["date", "vix_open", "vix_high", "vix_low", "vix_close", "vix9d_close", "vix3m_close", "spx_trading_day"],
    ),
    "spx": ("spx_daily.csv", ["date", "open", "high", "low", "close"]),
    "vx": ("vx_contracts.csv", ["trade_date", "contract", "expiry", "open", "high", "low", "settle", "settle_suspect"]),
    "vixy": ("vixy_daily.csv", ["date", "open", "high", "low", "close"]),
}
MAX_GAP_DAYS = 8  # anchors further apart are a hole in the data (the longest real closure, 9/11, is 7 days)
SECONDS_PER_YEAR = DAYS_PER_YEAR * 86400.0
REPLAY_START_TIME_ET = dt.time(10, 0)


class ReplayError(ValueError):
    """A replay directory that cannot be used, naming the file, the problem and the fix."""


def _read(directory: Path, kind: str) -> pd.DataFrame:
    name, columns = FILES[kind]
    path = directory / name
    if not path.is_file():
        raise ReplayError(f"{path}: missing. Fix: a replay directory needs {', '.join(f for f, _ in FILES.values())}")
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ReplayError(f"{path}: not a readable CSV ({exc}). Fix: restore the file from its source") from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ReplayError(f"{path}: missing column(s) {', '.join(missing)}. Fix: use the format in SOURCES.md")
    date_col = columns[0]
    dates = pd.to_datetime(df[date_col], format="%Y-%m-%d", errors="coerce")
    if dates.isna().any():
        row = int(dates.isna().to_numpy().argmax())
        raise ReplayError(
            f"{path}: row {row + 2}: {date_col} {df[date_col].iloc[row]!r} is not a YYYY-MM-DD date. Fix: correct it"
        )
    df[date_col] = dates.dt.date
    for col in columns:
        if col in (date_col, "contract", "expiry", "spx_trading_day", "settle_suspect"):
            continue
        values = pd.to_numeric(df[col], errors="coerce")
        bad = values.isna() & df[col].notna() & (df[col].astype(str).str.strip() != "")
        if bad.any():
            row = int(bad.to_numpy().argmax())
            raise ReplayError(f"{path}: row {row + 2}: {col} {df[col].iloc[row]!r} is not a number. Fix: correct it")
        df[col] = values
    close_col = {"vix": "vix_close", "spx": "close", "vx": "settle", "vixy": "close"}[kind]
    if df[close_col].isna().any() or (df[close_col] <= 0).any():
        row = int((df[close_col].isna() | (df[close_col] <= 0)).to_numpy().argmax())
        raise ReplayError(
            f"{path}: row {row + 2}: {close_col} {df[close_col].iloc[row]!r} is missing or not positive. "
            "Fix: correct or remove the row"
        )
    if len(df) == 0:
        raise ReplayError(f"{path}: no rows. Fix: restore the file")
    return df


@lru_cache(maxsize=100_000)
def _close_instant(day: dt.date, venue: str, default: dt.time, liquid: bool = True) -> tuple[dt.datetime, dt.datetime]:
    """(open, close) of the day's regular session; calendar hours when it is a session, else the default times."""
    s = hours.session_on(venue, day)
    if s is not None:
        return s.liquid_open, s.liquid_close
    o = dt.datetime.combine(day, dt.time(9, 30), tzinfo=hours.ET).astimezone(dt.UTC)
    return o, dt.datetime.combine(day, default, tzinfo=hours.ET).astimezone(dt.UTC)


@dataclass
class Series:
    """Daily closes anchored at close instants; linear from the previous close during each session."""

    days: list[dt.date]
    opens: np.ndarray  # epoch seconds of each session open
    closes: np.ndarray  # epoch seconds of each close
    values: np.ndarray
    ohlc: list[tuple[float, float, float, float]]

    @classmethod
    def build(cls, days, values, venue: str, close_time: dt.time, ohlc=None) -> Series:
        o, c = [], []
        for d in days:
            a, b = _close_instant(d, venue, close_time)
            o.append(a.timestamp())
            c.append(b.timestamp())
        vals = np.asarray(values, dtype=float)
        bars = ohlc if ohlc is not None else [(v, v, v, v) for v in vals]
        return cls(list(days), np.asarray(o), np.asarray(c), vals, bars)

    def value(self, t: dt.datetime) -> float:
        """Interpolated value at t, NaN outside the covered period or inside a hole in the data."""
        x = t.timestamp()
        i = int(np.searchsorted(self.opens, x, side="right")) - 1
        if i < 0:
            return math.nan
        if x >= self.closes[i]:  # after a close: hold it, unless the data stops here
            return float(self.values[i]) if x - self.closes[i] <= MAX_GAP_DAYS * 86400 else math.nan
        if i == 0:
            return float(self.values[0])
        if self.closes[i] - self.closes[i - 1] > MAX_GAP_DAYS * 86400:
            return math.nan  # the day after a hole: no previous close to move from
        prev = self.values[i - 1]
        w = (x - self.opens[i]) / (self.closes[i] - self.opens[i])
        return float(prev + (self.values[i] - prev) * w)


def _ohlc(df: pd.DataFrame, o: str, h: str, low: str, c: str) -> list[tuple[float, float, float, float]]:
    out = []
    for ov, hv, lv, cv in zip(df[o], df[h], df[low], df[c], strict=True):
        ov = cv if not (ov > 0) else ov
        hv = max(cv, ov) if not (hv > 0) else max(hv, ov, cv)
        lv = min(cv, ov) if not (lv > 0) else min(lv, ov, cv)
        out.append((float(ov), float(hv), float(lv), float(cv)))
    return out


def _parse_contract(code: str) -> tuple[int, int] | None:
    if len(code) != 7 or not code.startswith("VX") or code[2] not in MONTH_CODES or not code[3:].isdigit():
        return None
    return int(code[3:]), MONTH_CODES.index(code[2]) + 1


class ReplayPath:
    """The PricePath of a replay directory (see model.PricePath)."""

    def __init__(self, directory: Path, settings: SimSettings, start: dt.datetime | None = None):
        if not directory.is_dir():
            raise ReplayError(f"{directory}: not a directory. Fix: pass a directory in the ../shared/data format")
        self.settings = settings
        vix = _read(directory, "vix")
        vix = vix[vix["spx_trading_day"].astype(str).str.lower() != "false"]
        spx = _read(directory, "spx")
        vx = _read(directory, "vx")
        vx = vx[vx["settle_suspect"].astype(str).str.lower() != "true"]
        vixy = _read(directory, "vixy")
        self.vix_s = Series.build(
            vix["date"],
            vix["vix_close"],
            "cboe",
            dt.time(16, 15),
            _ohlc(vix, "vix_open", "vix_high", "vix_low", "vix_close"),
        )
        v9 = vix.dropna(subset=["vix9d_close"])
        v3 = vix.dropna(subset=["vix3m_close"])
        self.v9_s = Series.build(v9["date"], v9["vix9d_close"], "cboe", dt.time(16, 15))
        self.v3_s = Series.build(v3["date"], v3["vix3m_close"], "cboe", dt.time(16, 15))
        self.spx_s = Series.build(
            spx["date"], spx["close"], "stock", dt.time(16, 0), _ohlc(spx, "open", "high", "low", "close")
        )
        self.vixy_raw = Series.build(
            vixy["date"], vixy["close"], "stock", dt.time(16, 0), _ohlc(vixy, "open", "high", "low", "close")
        )
        self.futures: dict[tuple[int, int], Series] = {}
        self.final: dict[tuple[int, int], float] = {}
        for code, rows in vx.groupby("contract"):
            ym = _parse_contract(str(code))
            if ym is None:
                raise ReplayError(
                    f"{directory / FILES['vx'][0]}: contract {code!r} is not like VXF2020. Fix: correct it"
                )
            expiry = FutKey("VX", *ym).expiry
            rows = rows.sort_values("trade_date")
            on_expiry = rows[rows["trade_date"] >= expiry]
            if len(on_expiry):
                self.final[ym] = float(on_expiry["settle"].iloc[0])
            live = rows[rows["trade_date"] < expiry]
            if len(live):
                self.futures[ym] = Series.build(
                    live["trade_date"],
                    live["settle"],
                    "cfe",
                    dt.time(16, 15),
                    _ohlc(live, "open", "high", "low", "settle"),
                )
        self._window(start, directory)

    def _window(self, start: dt.datetime | None, directory: Path) -> None:
        first_common = max(self.vix_s.days[0], self.spx_s.days[0], self.vixy_raw.days[0])
        days = [d for d in self.vix_s.days if d >= first_common]
        warm = self.settings.warmup_days
        if len(days) <= warm + 1:
            raise ReplayError(
                f"{directory}: fewer than {warm} common days of VIX, SPX and VIXY history. "
                "Fix: use a longer history or lower sim.warmup_days"
            )
        last = min(self.vix_s.days[-1], self.spx_s.days[-1], self.vixy_raw.days[-1])
        first_allowed = days[warm]
        asked = start.astimezone(hours.ET).date() if start is not None else self.settings.replay_start
        day = asked or first_allowed
        if day < first_allowed:
            raise ReplayError(
                f"replay start {day} leaves less than {warm} days of warm-up history; "
                f"Fix: start on or after {first_allowed}"
            )
        if day > last:
            raise ReplayError(f"replay start {day} is after the data ends ({last}). Fix: pick an earlier start")
        start_day = days[bisect.bisect_left(days, day)] if day not in days else day
        end_day = min(self.settings.replay_end or last, last)
        if end_day <= start_day:
            raise ReplayError(f"replay end {end_day} is not after the start {start_day}. Fix: widen the window")
        self.start = start or dt.datetime.combine(start_day, REPLAY_START_TIME_ET, tzinfo=hours.ET).astimezone(dt.UTC)
        self.end = _close_instant(end_day, "cboe", dt.time(16, 15))[1] + dt.timedelta(minutes=15)
        self.t0 = dt.datetime.fromtimestamp(float(self.vix_s.opens[self.vix_s.days.index(days[0])]), dt.UTC)
        anchor = self.vixy_raw.value(self.start)
        self.vixy_scale = self.settings.vixy_start / anchor

    # ---- series at t
    def vix(self, t: dt.datetime) -> float:
        return self.vix_s.value(t)

    def spx(self, t: dt.datetime) -> float:
        return self.spx_s.value(t)

    def theta(self, t: dt.datetime) -> float:
        return self.settings.replay_long_run_vix

    def _vol(self, series: Series, days: float, t: dt.datetime) -> float:
        v = series.value(t)
        if math.isnan(v):
            return vol_index(self.vix(t), self.theta(t), days, self.settings.curve_kappa)
        return v

    def vix9d(self, t: dt.datetime) -> float:
        return self._vol(self.v9_s, 9.0, t)

    def vix3m(self, t: dt.datetime) -> float:
        return self._vol(self.v3_s, 93.0, t)

    def future(self, key: FutKey, t: dt.datetime) -> float:
        ym = (key.year, key.month)
        settle = settlement_instant(key)
        if t >= settle:
            final = self.final.get(ym)
            return final if final is not None else self.vix(settle)
        series = self.futures.get(ym)
        v = series.value(t) if series is not None else math.nan
        if math.isnan(v):
            tau = (settle - t).total_seconds() / SECONDS_PER_YEAR
            return future_price(self.vix(t), self.theta(t), tau, self.settings.curve_kappa)
        return v

    def vixy(self, t: dt.datetime) -> float:
        return self.vixy_raw.value(t) * self.vixy_scale

    def settlement(self, key: FutKey | OptKey) -> float:
        """Final settlement from the data: the VX expiry-day settle (the SOQ) or, failing that, the VIX open;
        SPX AM: the day's SPX open; SPXW: the SPX close."""
        at = settlement_instant(key)
        day = key.expiry
        if isinstance(key, OptKey) and key.trading_class != "VIX":
            if key.trading_class == "SPXW":
                return self.spx(at)
            return self._ohlc_on(self.spx_s, day, 0) or self.spx(at)
        final = self.final.get((key.expiry.year, key.expiry.month))
        return final or self._ohlc_on(self.vix_s, day, 0) or self.vix(at)

    @staticmethod
    def _ohlc_on(series: Series, day: dt.date, field: int) -> float | None:
        i = bisect.bisect_left(series.days, day)
        return series.ohlc[i][field] if i < len(series.days) and series.days[i] == day else None

    def spx_range(self) -> tuple[float, float]:
        lo = bisect.bisect_left(self.spx_s.days, self.t0.date())
        hi = bisect.bisect_right(self.spx_s.days, self.end.date())
        window = self.spx_s.values[lo:hi]
        return float(window.min()), float(window.max())

    # ---- real daily bars
    def bars(self, series: str | FutKey, venue: str, first: dt.date, end: dt.datetime) -> list[Bar]:
        if isinstance(series, FutKey):
            s = self.futures.get((series.year, series.month))
            scale = 1.0
        else:
            s = {"VIX": self.vix_s, "SPX": self.spx_s, "VIX9D": self.v9_s, "VIX3M": self.v3_s}.get(series)
            scale = 1.0
            if series == "VIXY":
                s, scale = self.vixy_raw, self.vixy_scale
        if s is None:
            return []
        out = []
        x_end = end.timestamp()
        lo = bisect.bisect_left(s.days, first)
        for i in range(lo, len(s.days)):
            if s.opens[i] > x_end:
                break
            o, h, low, c = (v * scale for v in s.ohlc[i])
            if s.closes[i] > x_end:  # the session under way: open so far and the interpolated value now
                now = s.value(end) * scale
                o = float(s.values[i - 1]) * scale if i else now
                h, low, c = max(o, now), min(o, now), now
            out.append(Bar(s.days[i], float(o), float(h), float(low), float(c)))
        return out
