"""Load a data directory (the shared format of `../shared/data`, or Cboe's raw files) into aligned arrays.

Everything is aligned on one calendar: the US trading days present in both the SPX and the VIX files
(VIX rows with `spx_trading_day` False are dropped, as SOURCES.md asks). Series that start later (VIX3M in 2009,
VIX9D and VIXY in 2011) or end earlier (NYSE breadth in 2016) are NaN outside their range; consumers decide what a
missing value means. Loading takes about a second; afterwards the simulation only touches numpy arrays.

Files (shared format; * = required):
  * vix_family_daily.csv  date, vix_open..vix_close, vix9d_close, vix3m_close, vvix_close, skew, ...,
                          vix_open_suspect, spx_trading_day   (or Cboe's VIX_History.csv instead)
  * spx_daily.csv         date, open, high, low, close, ..., open_equals_prev_close
  * vx_contracts.csv      trade_date, contract, expiry, settle, ..., rescaled_div10, settle_suspect
                          (or Cboe's CFE_<M><YY>_VX.csv files instead)
  * fed_funds_daily.csv   date, value (percent)
    vixy_daily.csv, macro_calendar.csv, nyse_adv_dec.csv, cboe_cndr_index.csv, vx_term_structure.csv (checked only)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bot.backtest.cboe import normalize_vx_scale, read_cfe_directory, read_vix_history
from bot.backtest.validate import Column, DataError, Schema, Warnings, read_csv, report_gaps

VIX_FAMILY = Schema(
    columns=(
        Column("date", "date"),
        Column("vix_open", "float", required=False, positive=True),
        Column("vix_high", "float", required=False, positive=True),
        Column("vix_low", "float", required=False, positive=True),
        Column("vix_close", "float", positive=True),
        Column("vix9d_close", "float", required=False, positive=True),
        Column("vix3m_close", "float", required=False, positive=True),
        Column("vvix_close", "float", required=False, positive=True),
        Column("skew", "float", required=False, positive=True),
        Column("vix_open_suspect", "bool", required=False),
        Column("spx_trading_day", "bool", required=False),
    ),
    key="date",
    optional_columns=frozenset({"vix9d_close", "vix3m_close", "vvix_close", "skew", "vix_open_suspect"}),
)
SPX = Schema(
    columns=(
        Column("date", "date"),
        Column("open", "float", required=False, positive=True),
        Column("close", "float", positive=True),
        Column("open_equals_prev_close", "bool", required=False),
    ),
    key="date",
    optional_columns=frozenset({"open", "open_equals_prev_close"}),
)
VX_CONTRACTS = Schema(
    columns=(
        Column("trade_date", "date"),
        Column("contract", "str"),
        Column("expiry", "date"),
        Column("settle", "float", positive=True),
        Column("rescaled_div10", "bool", required=False),
        Column("settle_suspect", "bool", required=False),
    ),
    optional_columns=frozenset({"rescaled_div10", "settle_suspect"}),
)
FED_FUNDS = Schema(columns=(Column("date", "date"), Column("value", "float")), key="date")
VIXY = Schema(columns=(Column("date", "date"), Column("close", "float", positive=True)), key="date")
MACRO = Schema(
    columns=(Column("date", "date"), Column("event", "str"), Column("scheduled", "bool", required=False)),
    optional_columns=frozenset({"scheduled"}),
)
NYSE = Schema(
    columns=(
        Column("date", "date"),
        Column("advances", "float"),
        Column("declines", "float"),
        Column("ad_line", "float", required=False),
    ),
    key="date",
    optional_columns=frozenset({"ad_line"}),
)
CNDR = Schema(columns=(Column("date", "date"), Column("cndr", "float", positive=True)), key="date")
TERM = Schema(
    columns=(Column("trade_date", "date"), Column("f1_settle", "float", required=False, positive=True)),
    key="trade_date",
)


@dataclass(frozen=True)
class VxCurve:
    """Real settlements of every monthly VX contract, one column per contract (NaN: not listed / suspect)."""

    codes: tuple[str, ...]
    expiry: np.ndarray  # datetime64[D] per contract, sorted ascending
    settle: np.ndarray  # (n_days, n_contracts) float
    f1: np.ndarray  # per day: column of the nearest contract expiring strictly after the day (-1: none)
    f2: np.ndarray  # per day: the next one after f1 (-1: none)


@dataclass(frozen=True)
class MarketData:
    """All inputs of a run on one trading-day calendar. Arrays are read-only by convention."""

    source: str
    dates: np.ndarray  # datetime64[D]
    spx: np.ndarray
    vix: np.ndarray
    vix9d: np.ndarray
    vix3m: np.ndarray
    vvix: np.ndarray
    skew: np.ndarray
    rate: np.ndarray  # fed funds, decimal, carried forward
    vx: VxCurve
    vixy: np.ndarray  # VIXY close (NaN before launch); only returns are meaningful
    breadth_net: np.ndarray  # NYSE advances - declines (NaN where absent)
    cndr: np.ndarray  # Cboe CNDR index (NaN where absent)
    macro_dates: np.ndarray  # datetime64[D], sorted: FOMC / CPI release days
    macro_events: tuple[str, ...]
    warnings: tuple[str, ...] = field(default=())
    macro_scheduled: np.ndarray | None = None  # bool per macro date; unscheduled ones are unknown until they happen
    breadth_ad: np.ndarray | None = None  # NYSE advance-decline line (NaN where absent)
    history: MarketData | None = None  # the unsliced data: days before `dates[0]` are warm-up history for signals
    offset: int = 0  # index of dates[0] in `history`

    @property
    def n(self) -> int:
        return len(self.dates)

    def index_of(self, day: dt.date | str) -> int:
        """First trading-day index on or after `day`."""
        return int(np.searchsorted(self.dates, np.datetime64(day, "D")))

    def slice(self, start: dt.date | str | None, end: dt.date | str | None) -> MarketData:
        """The same data restricted to [start, end] (inclusive); an empty range is a user error."""
        lo = 0 if start is None else self.index_of(start)
        hi = self.n if end is None else int(np.searchsorted(self.dates, np.datetime64(end, "D"), side="right"))
        if hi - lo < 2:
            raise DataError(
                self.source,
                None,
                f"fewer than 2 trading days between {start} and {end} (data covers "
                f"{self.dates[0]} to {self.dates[-1]}). Fix: widen --start/--end",
            )
        cut = slice(lo, hi)
        vx = VxCurve(self.vx.codes, self.vx.expiry, self.vx.settle[cut], self.vx.f1[cut], self.vx.f2[cut])
        arrays = {
            name: getattr(self, name)[cut]
            for name in ("dates", "spx", "vix", "vix9d", "vix3m", "vvix", "skew", "rate", "vixy", "breadth_net", "cndr")
        }
        return MarketData(
            source=self.source,
            vx=vx,
            macro_dates=self.macro_dates,
            macro_events=self.macro_events,
            macro_scheduled=self.macro_scheduled,
            breadth_ad=None if self.breadth_ad is None else self.breadth_ad[cut],
            warnings=self.warnings,
            history=self.history or self,
            offset=self.offset + lo,
            **arrays,
        )


def _align(dates: np.ndarray, src_dates: np.ndarray, values: np.ndarray, carry: bool = False) -> np.ndarray:
    """Values of `src_dates` placed on `dates` (NaN where absent, or last value carried forward if `carry`)."""
    out = np.full(len(dates), np.nan)
    if len(src_dates) == 0:
        return out
    if carry:
        pos = np.searchsorted(src_dates, dates, side="right") - 1
        ok = pos >= 0
        out[ok] = values[pos[ok]]
        return out
    pos = np.clip(np.searchsorted(src_dates, dates), 0, len(src_dates) - 1)
    hit = src_dates[pos] == dates
    out[hit] = values[pos[hit]]
    return out


def _load_vix(directory: Path, warnings: Warnings) -> pd.DataFrame:
    shared = directory / "vix_family_daily.csv"
    if shared.is_file():
        frame = read_csv(shared, VIX_FAMILY)
        if "spx_trading_day" in frame:
            dropped = int((~frame["spx_trading_day"]).sum())
            if dropped:
                warnings.add(shared, f"{dropped} non-trading-day row(s) (spx_trading_day False) dropped")
            frame = frame.loc[frame["spx_trading_day"]]
        if "vix_open_suspect" in frame and frame["vix_open_suspect"].any():
            warnings.add(shared, f"{int(frame['vix_open_suspect'].sum())} suspect VIX opens ignored (closes used)")
        return frame
    raw = directory / "VIX_History.csv"
    if raw.is_file():
        warnings.add(raw, "Cboe VIX_History.csv used: no VIX9D/VIX3M/VVIX/SKEW (the vol model falls back)")
        return read_vix_history(raw)
    raise DataError(directory, None, "neither vix_family_daily.csv nor VIX_History.csv found. Fix: add one of them")


def _load_vx(directory: Path, warnings: Warnings) -> pd.DataFrame:
    shared = directory / "vx_contracts.csv"
    if not shared.is_file():
        return read_cfe_directory(directory, warnings)
    frame = read_csv(shared, VX_CONTRACTS)
    if "rescaled_div10" not in frame:
        frame["rescaled_div10"] = False
    frame = normalize_vx_scale(frame, shared)
    if "settle_suspect" in frame and frame["settle_suspect"].any():
        warnings.add(shared, f"{int(frame['settle_suspect'].sum())} settle_suspect row(s) ignored")
        frame = frame.loc[~frame["settle_suspect"]]
    key = frame["trade_date"].astype(str) + " " + frame["contract"].astype(str)
    dup = key.duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        raise DataError(
            shared, int(frame.index[row]) + 2, f"duplicate row for {key.iloc[row]}. Fix: one row per contract per day"
        )
    return frame


def _vx_curve(dates: np.ndarray, frame: pd.DataFrame) -> VxCurve:
    expiry_by_code = frame.groupby("contract", sort=False)["expiry"].first()
    order = np.argsort(expiry_by_code.to_numpy(dtype="datetime64[D]"), kind="stable")
    codes = tuple(expiry_by_code.index[order])
    expiry = expiry_by_code.to_numpy(dtype="datetime64[D]")[order]
    column = {code: j for j, code in enumerate(codes)}
    settle = np.full((len(dates), len(codes)), np.nan)
    trade = frame["trade_date"].to_numpy(dtype="datetime64[D]")
    pos = np.clip(np.searchsorted(dates, trade), 0, max(len(dates) - 1, 0))
    on_calendar = dates[pos] == trade
    cols = frame["contract"].map(column).to_numpy()
    settle[pos[on_calendar], cols[on_calendar]] = frame["settle"].to_numpy(dtype=float)[on_calendar]
    f1 = np.full(len(dates), -1, dtype=np.int64)
    f2 = np.full(len(dates), -1, dtype=np.int64)
    for i, day in enumerate(dates):
        live = np.flatnonzero((expiry > day) & ~np.isnan(settle[i]))
        if len(live):
            f1[i] = live[0]
            if len(live) > 1:
                f2[i] = live[1]
    return VxCurve(codes, expiry, settle, f1, f2)


def _scheduled(macro: pd.DataFrame) -> np.ndarray:
    """Whether each event was scheduled (known in advance); a file without the column means all were."""
    return macro["scheduled"].to_numpy(dtype=bool) if "scheduled" in macro else np.ones(len(macro), dtype=bool)


def _optional(directory: Path, name: str, schema: Schema) -> pd.DataFrame | None:
    path = directory / name
    return read_csv(path, schema) if path.is_file() else None


def load_directory(directory: str | Path) -> MarketData:
    """Read, validate and align every file of `directory`; DataError names the first problem found."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(directory, None, "not a directory. Fix: pass --data DIR (e.g. ../shared/data)")
    warnings = Warnings()
    vix = _load_vix(directory, warnings)
    spx = read_csv(directory / "spx_daily.csv", SPX)
    dates = np.intersect1d(vix["date"].to_numpy(dtype="datetime64[D]"), spx["date"].to_numpy(dtype="datetime64[D]"))
    if len(dates) < 2:
        raise DataError(directory, None, "the SPX and VIX files share fewer than 2 dates. Fix: check both files")
    only_spx = len(spx) - len(dates)
    if only_spx > 0:
        warnings.add(directory / "spx_daily.csv", f"{only_spx} SPX day(s) without a VIX row dropped")
    report_gaps(directory / "spx_daily.csv", dates, warnings)

    def col(frame: pd.DataFrame, name: str, key: str = "date", carry: bool = False) -> np.ndarray:
        if name not in frame:
            return np.full(len(dates), np.nan)
        return _align(dates, frame[key].to_numpy(dtype="datetime64[D]"), frame[name].to_numpy(dtype=float), carry)

    fed = read_csv(directory / "fed_funds_daily.csv", FED_FUNDS)
    rate = col(fed, "value", carry=True) / 100.0
    if np.isnan(rate[0]):
        raise DataError(
            directory / "fed_funds_daily.csv", None, f"no rate on or before {dates[0]}. Fix: extend the file back"
        )
    vx_frame = _load_vx(directory, warnings)
    vx = _vx_curve(dates, vx_frame)
    vixy = _optional(directory, "vixy_daily.csv", VIXY)
    macro = _optional(directory, "macro_calendar.csv", MACRO)
    nyse = _optional(directory, "nyse_adv_dec.csv", NYSE)
    cndr = _optional(directory, "cboe_cndr_index.csv", CNDR)
    _optional(directory, "vx_term_structure.csv", TERM)  # validated for consistency; the curve comes from contracts
    if nyse is not None:
        nyse = nyse.assign(net=nyse["advances"] - nyse["declines"])
    macro_dates = np.array([], dtype="datetime64[D]") if macro is None else macro["date"].to_numpy("datetime64[D]")
    order = np.argsort(macro_dates, kind="stable")
    return MarketData(
        source=str(directory),
        dates=dates,
        spx=col(spx, "close"),
        vix=col(vix, "vix_close"),
        vix9d=col(vix, "vix9d_close"),
        vix3m=col(vix, "vix3m_close"),
        vvix=col(vix, "vvix_close"),
        skew=col(vix, "skew"),
        rate=rate,
        vx=vx,
        vixy=np.full(len(dates), np.nan) if vixy is None else col(vixy, "close"),
        breadth_net=np.full(len(dates), np.nan) if nyse is None else col(nyse, "net"),
        cndr=np.full(len(dates), np.nan) if cndr is None else col(cndr, "cndr"),
        macro_dates=macro_dates[order],
        macro_events=() if macro is None else tuple(macro["event"].to_numpy()[order]),
        macro_scheduled=None if macro is None else _scheduled(macro)[order],
        breadth_ad=None if nyse is None or "ad_line" not in nyse else col(nyse, "ad_line"),
        warnings=tuple(warnings.items),
    )
