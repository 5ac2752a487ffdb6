"""Readers for Cboe's public raw formats, converted to the shared layout.

- `VIX_History.csv` (cdn.cboe.com daily_prices): `DATE,OPEN,HIGH,LOW,CLOSE`, dates MM/DD/YYYY.
- Per-contract CFE settlement files `CFE_<M><YY>_VX.csv`: `Trade Date,Futures,Open,High,Low,Close,Settle,Change,
  Total Volume,EFP,Open Interest`, dates M/D/YYYY, label like `K (May 04)`. Before 2007-03-26 CFE quoted VX at ten
  times the VIX ("VXB" scale); those prices are divided by 10 here, detected per row from the price level so that
  a file someone already rescaled is never divided twice. On the final settlement row CFE writes 0 for
  open/high/low/close (no trade); those become NaN, the settle is kept.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from bot.backtest.validate import Column, DataError, Schema, Warnings, read_csv
from bot.vx_calendar import MONTH_CODES, contract_code, vx_expiry

RESCALE_CUTOVER = np.datetime64("2007-03-26")
# VX at VIX scale stayed below 35 from 2004 to 2007-03; at the x10 scale it never went below ~100. A settle above
# this level before the cutover can only be an x10 quote.
X10_LEVEL = 60.0
_PRICE_COLUMNS = ("open", "high", "low", "close", "settle", "change")

VIX_HISTORY_SCHEMA = Schema(
    columns=(
        Column("DATE", "date", date_format="%m/%d/%Y"),
        Column("OPEN", "float", required=False, positive=True),
        Column("HIGH", "float", required=False, positive=True),
        Column("LOW", "float", required=False, positive=True),
        Column("CLOSE", "float", positive=True),
    ),
    key="DATE",
)

CFE_SCHEMA = Schema(
    columns=(
        Column("Trade Date", "date", date_format="%m/%d/%Y"),
        Column("Futures", "str"),
        Column("Open", "float", required=False),
        Column("High", "float", required=False),
        Column("Low", "float", required=False),
        Column("Close", "float", required=False),
        Column("Settle", "float"),
        Column("Change", "float", required=False),
        Column("Total Volume", "float", required=False),
        Column("EFP", "float", required=False),
        Column("Open Interest", "float", required=False),
    ),
    key="Trade Date",
)

_CFE_NAME = re.compile(r"^CFE_([FGHJKMNQUVXZ])(\d{2})_VX\.csv$", re.IGNORECASE)


def read_vix_history(path: Path) -> pd.DataFrame:
    """Cboe `VIX_History.csv` -> frame with date, vix_open, vix_high, vix_low, vix_close."""
    raw = read_csv(path, VIX_HISTORY_SCHEMA)
    return pd.DataFrame(
        {
            "date": raw["DATE"],
            "vix_open": raw["OPEN"],
            "vix_high": raw["HIGH"],
            "vix_low": raw["LOW"],
            "vix_close": raw["CLOSE"],
        }
    )


def contract_from_filename(path: Path) -> tuple[int, int]:
    """`CFE_K04_VX.csv` -> (2004, 5). Two-digit years are 2000+ (VX started in 2004)."""
    match = _CFE_NAME.match(path.name)
    if not match:
        raise DataError(path, None, "file name is not CFE_<month code><YY>_VX.csv. Fix: keep Cboe's file names")
    return 2000 + int(match.group(2)), MONTH_CODES.index(match.group(1).upper()) + 1


def read_cfe_contract(path: Path, warnings: Warnings) -> pd.DataFrame:
    """One CFE per-contract file -> rows in the `vx_contracts.csv` layout, at VIX scale."""
    year, month = contract_from_filename(path)
    raw = read_csv(path, CFE_SCHEMA)
    frame = pd.DataFrame(
        {
            "trade_date": raw["Trade Date"],
            "open": raw["Open"],
            "high": raw["High"],
            "low": raw["Low"],
            "close": raw["Close"],
            "settle": raw["Settle"],
            "change": raw["Change"],
            "volume": raw["Total Volume"],
            "open_interest": raw["Open Interest"],
        }
    )
    for column in ("open", "high", "low", "close"):
        frame.loc[frame[column] <= 0, column] = np.nan  # CFE writes 0 when nothing traded
    bad_settle = ~(frame["settle"].to_numpy() > 0)
    if bad_settle.any():
        warnings.add(path, f"{int(bad_settle.sum())} row(s) with settle <= 0 dropped")
        frame = frame.loc[~bad_settle].reset_index(drop=True)
    frame["contract"] = contract_code(year, month)
    frame["expiry"] = np.datetime64(vx_expiry(year, month), "D")
    frame["rescaled_div10"] = False
    return normalize_vx_scale(frame, path)


def normalize_vx_scale(frame: pd.DataFrame, path: Path, first_line: int = 2) -> pd.DataFrame:
    """Divide x10-quoted pre-2007-03-26 VX prices by 10, exactly once.

    Rows already flagged `rescaled_div10` are at VIX scale and are left alone; a flagged row whose settle still
    looks x10 is contradictory and is an error. Unflagged rows before the cutover whose settle is above
    `X10_LEVEL` are x10 quotes: divided and flagged.
    """
    dates = frame["trade_date"].to_numpy(dtype="datetime64[D]")
    settle = frame["settle"].to_numpy(dtype=float)
    flagged = frame["rescaled_div10"].to_numpy(dtype=bool)
    before = dates < RESCALE_CUTOVER
    contradictory = flagged & (settle > X10_LEVEL)
    if contradictory.any():
        row = int(np.flatnonzero(contradictory)[0])
        raise DataError(
            path,
            first_line + row,
            f"settle {settle[row]:g} on {dates[row]} is flagged rescaled_div10 but still "
            "looks like an x10 quote. Fix: set rescaled_div10 to False on raw rows, or divide the prices by 10",
        )
    late_x10 = ~before & (settle > X10_LEVEL * 2)
    if late_x10.any():
        row = int(np.flatnonzero(late_x10)[0])
        raise DataError(
            path,
            first_line + row,
            f"settle {settle[row]:g} on {dates[row]} looks x10-quoted but CFE quoted at VIX "
            "scale from 2007-03-26. Fix: check the file's units",
        )
    to_scale = before & ~flagged & (settle > X10_LEVEL)
    if to_scale.any():
        frame = frame.copy()
        for column in _PRICE_COLUMNS:
            if column in frame.columns:
                values = frame[column].to_numpy(dtype=float).copy()
                values[to_scale] /= 10.0
                frame[column] = values
        frame["rescaled_div10"] = flagged | to_scale
    return frame


def read_cfe_directory(directory: Path, warnings: Warnings) -> pd.DataFrame:
    """All `CFE_*_VX.csv` files of a directory -> one `vx_contracts`-style frame sorted by date and expiry."""
    files = sorted(p for p in directory.iterdir() if _CFE_NAME.match(p.name))
    if not files:
        raise DataError(directory, None, "no vx_contracts.csv and no CFE_<M><YY>_VX.csv files. Fix: add one of them")
    frames = [read_cfe_contract(p, warnings) for p in files]
    frame = pd.concat(frames, ignore_index=True)
    frame["settle_suspect"] = False
    return frame.sort_values(["trade_date", "expiry"], kind="stable").reset_index(drop=True)
