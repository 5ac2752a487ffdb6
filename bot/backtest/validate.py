"""CSV parsing with checks that point at the exact file, line and problem.

Why a schema layer instead of bare `pd.read_csv`: a wrong date format or a stray text cell otherwise surfaces as a
NaN deep inside the simulation (or a pandas traceback). Here every column is parsed explicitly, and the first bad
cell is reported as `file:line: column 'x': problem. Fix: ...`. Soft problems (gaps, flagged rows) are collected
as warnings instead, so a run can report them without stopping.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

Kind = Literal["date", "float", "bool", "str", "int"]


class DataError(Exception):
    """A data file the backtest cannot use; the message names the file, the line (1-based) and the problem."""

    def __init__(self, path: Path | str, line: int | None, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind
    required: bool = True  # False: a missing cell (empty) is allowed and becomes NaN / None
    positive: bool = False  # numbers must be > 0 when present
    date_format: str = "%Y-%m-%d"


@dataclass(frozen=True, slots=True)
class Schema:
    columns: tuple[Column, ...]
    key: str | None = None  # the date column that must be unique and increasing
    optional_columns: frozenset[str] = frozenset()  # may be absent from the header altogether


@dataclass
class Warnings:
    """Soft data problems, reported in the backtest output instead of stopping the run."""

    items: list[str] = field(default_factory=list)

    def add(self, path: Path | str, message: str) -> None:
        self.items.append(f"{Path(path).name}: {message}")


_TRUE = {"true", "1", "yes", "t"}
_FALSE = {"false", "0", "no", "f"}


def find_header(path: Path, first_column: str, max_lines: int = 5) -> int:
    """Index (0-based) of the header line; Cboe files sometimes carry a disclaimer line above it."""
    try:
        with path.open(encoding="utf-8-sig") as handle:
            for index in range(max_lines):
                line = handle.readline()
                if not line:
                    break
                if line.split(",")[0].strip().lower() == first_column.lower():
                    return index
    except UnicodeDecodeError as exc:
        raise DataError(path, None, f"not UTF-8 text ({exc.reason}). Fix: save the file as UTF-8 CSV") from None
    raise DataError(
        path,
        1,
        f"no header line starting with '{first_column}' in the first {max_lines} lines. Fix: is this the "
        "right file? See bot/backtest/data.py for the expected columns",
    )


def read_csv(path: Path, schema: Schema, header_name: str | None = None) -> pd.DataFrame:
    """Parse `path` according to `schema`; raise DataError at the first malformed cell."""
    if not path.is_file():
        raise DataError(path, None, "file not found. Fix: point --data at a directory in the shared format")
    first = header_name or schema.columns[0].name
    header_line = find_header(path, first)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skiprows=header_line, skipinitialspace=True)
    except pd.errors.ParserError as exc:
        raise DataError(path, _parser_error_line(str(exc), header_line), f"malformed CSV ({exc})") from None
    except pd.errors.EmptyDataError:
        raise DataError(path, 1, "the file is empty. Fix: supply the header and data rows") from None
    raw.columns = [c.strip() for c in raw.columns]
    first_data_line = header_line + 2  # 1-based line number of raw row 0
    missing = [c.name for c in schema.columns if c.name not in raw.columns and c.name not in schema.optional_columns]
    if missing:
        raise DataError(
            path,
            header_line + 1,
            f"missing column(s) {missing}; the header has {list(raw.columns)}. "
            "Fix: rename the columns or convert the file to the expected layout",
        )
    out: dict[str, object] = {}
    for col in schema.columns:
        if col.name not in raw.columns:
            continue
        out[col.name] = _parse_column(path, raw[col.name], col, first_data_line)
    frame = pd.DataFrame(out)
    if schema.key is not None and len(frame):
        _check_key(path, frame[schema.key], first_data_line)
    return frame


def _parser_error_line(message: str, header_line: int) -> int | None:
    # pandas says e.g. "Error tokenizing data. C error: Expected 5 fields in line 7, saw 6"
    marker = " in line "
    if marker in message:
        tail = message.split(marker, 1)[1]
        digits = "".join(ch for ch in tail.split(",", 1)[0] if ch.isdigit())
        if digits:
            return int(digits) + header_line
    return None


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _parse_column(path: Path, series: pd.Series, col: Column, first_line: int) -> np.ndarray:
    text = series.astype(str).str.strip()
    empty = (text == "").to_numpy()
    if col.required and empty.any():
        row = _first_bad(empty)
        raise DataError(path, first_line + row, f"column '{col.name}' is empty. Fix: fill it or drop the row")
    if col.kind == "date":
        parsed = pd.to_datetime(text.where(~empty, None), format=col.date_format, errors="coerce")
        bad = parsed.isna().to_numpy() & ~empty
        if bad.any():
            row = _first_bad(bad)
            raise DataError(
                path,
                first_line + row,
                f"column '{col.name}': {text.iloc[row]!r} is not a date in the format "
                f"{col.date_format}. Fix: write dates as {dt.date(2018, 2, 5).strftime(col.date_format)}",
            )
        return parsed.to_numpy(dtype="datetime64[D]")
    if col.kind in ("float", "int"):
        values = pd.to_numeric(text.where(~empty, None), errors="coerce").to_numpy(dtype=float)
        bad = np.isnan(values) & ~empty
        if bad.any():
            row = _first_bad(bad)
            raise DataError(
                path,
                first_line + row,
                f"column '{col.name}': {text.iloc[row]!r} is not a number. "
                "Fix: use plain decimal numbers, empty for missing",
            )
        infinite = np.isinf(values)
        if infinite.any():
            row = _first_bad(infinite)
            raise DataError(path, first_line + row, f"column '{col.name}': infinite value. Fix: correct or drop it")
        if col.positive:
            nonpos = ~np.isnan(values) & (values <= 0)
            if nonpos.any():
                row = _first_bad(nonpos)
                raise DataError(
                    path,
                    first_line + row,
                    f"column '{col.name}': {values[row]:g} is not a positive price. "
                    "Fix: drop the row or correct the value",
                )
        return values
    if col.kind == "bool":
        lower = text.str.lower()
        bad = ~(lower.isin(_TRUE | _FALSE).to_numpy() | empty)
        if bad.any():
            row = _first_bad(bad)
            raise DataError(
                path,
                first_line + row,
                f"column '{col.name}': {text.iloc[row]!r} is not True/False. Fix: write True or False",
            )
        return lower.isin(_TRUE).to_numpy()
    return text.to_numpy(dtype=object)


def _check_key(path: Path, dates: pd.Series, first_line: int) -> None:
    values = dates.to_numpy(dtype="datetime64[D]")
    if np.isnat(values).any():
        row = _first_bad(np.isnat(values))
        raise DataError(path, first_line + row, "the date is missing. Fix: fill it or drop the row")
    step = np.diff(values.astype(np.int64))
    if (step == 0).any():
        row = _first_bad(step == 0) + 1
        raise DataError(
            path,
            first_line + row,
            f"duplicate date {values[row]} (also on line {first_line + row - 1}). Fix: keep one row per date",
        )
    if (step < 0).any():
        row = _first_bad(step < 0) + 1
        raise DataError(
            path,
            first_line + row,
            f"date {values[row]} comes after {values[row - 1]}: dates must increase. Fix: sort the file by date",
        )


def report_gaps(path: Path, dates: np.ndarray, warnings: Warnings, max_calendar_days: int = 5) -> None:
    """Record each gap longer than `max_calendar_days` between consecutive dates (9/11 is the one real one)."""
    if len(dates) < 2:
        return
    step = np.diff(dates.astype("datetime64[D]").astype(np.int64))
    for row in np.flatnonzero(step > max_calendar_days):
        warnings.add(path, f"gap of {int(step[row])} calendar days after {dates[row]}")
