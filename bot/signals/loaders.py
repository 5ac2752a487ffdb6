"""Read the signal data files into pure values (the rules never read files). Errors name file, line and problem.

Formats:
- macro calendar CSV: `date,event,description,scheduled,source` (ISO dates; scheduled True/False);
- breadth CSV: `date,advances,declines,net,ad_line`;
- external series: CSV `date,value`; or JSON, either [{"date", "value"}, ...] or {"dates": [...], "values": [...]}.
Dates must be ISO (YYYY-MM-DD) and strictly increasing in series files (the calendar may be in any order).
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from bot.settings.signals import ExternalRule, SignalSettings
from bot.signals.inputs import Breadth, DailySeries, ExternalSeries, MacroCalendar, MacroEvent


class DataFileError(ValueError):
    """A data file that cannot be used, with the file, the line and what to fix."""


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataFileError(f"{path}: no such file. Fix: check the path in the [signals] settings") from None
    except UnicodeDecodeError as exc:
        raise DataFileError(f"{path}: not UTF-8 text ({exc.reason}). Fix: save it as UTF-8") from None
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read it ({exc.strerror})") from None


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each data row, after checking the header has the required columns."""
    reader = csv.DictReader(_read_text(path).splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise DataFileError(
            f"{path}:1: header {header} lacks column(s) {missing}. Fix: the header must be {','.join(required)}"
        )
    reader.fieldnames = header
    for row in reader:
        line = reader.line_num
        if not any((v or "").strip() for v in row.values()):
            continue  # blank line
        yield line, {k: (v or "").strip() for k, v in row.items() if k is not None}


def _date(path: Path, line: int, text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise DataFileError(f"{path}:{line}: date {text!r} is not YYYY-MM-DD") from None


def _number(path: Path, line: int, column: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DataFileError(f"{path}:{line}: {column} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise DataFileError(f"{path}:{line}: {column} {text!r} is not finite; drop the row instead")
    return value


def _series(path: Path, pairs: list[tuple[int, dt.date, float]], json_items: bool = False) -> DailySeries:
    """Pairs are (line number, or item index for JSON; date; value)."""
    if not pairs:
        raise DataFileError(f"{path}: no data rows")
    for (_, d0, _), (pos, d1, _) in itertools.pairwise(pairs):
        if d1 <= d0:
            where = f"{path}: item {pos}" if json_items else f"{path}:{pos}"
            raise DataFileError(f"{where}: date {d1} does not come after {d0}. Fix: sort rows, remove duplicates")
    return DailySeries(tuple(d for _, d, _ in pairs), np.array([v for _, _, v in pairs]))


_BOOL = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


def load_macro_calendar(path: str | Path) -> MacroCalendar:
    path = Path(path)
    events: list[MacroEvent] = []
    for line, row in _rows(path, ("date", "event", "description", "scheduled", "source")):
        day = _date(path, line, row["date"])
        kind = row["event"].upper()
        if not kind:
            raise DataFileError(f"{path}:{line}: empty event. Fix: write CPI, PPI or FOMC")
        scheduled = _BOOL.get(row["scheduled"].lower())
        if scheduled is None:
            raise DataFileError(f"{path}:{line}: scheduled {row['scheduled']!r} is not True or False")
        events.append(MacroEvent(date=day, event=kind, description=row["description"], scheduled=scheduled))
    if not events:
        raise DataFileError(f"{path}: no events")
    return MacroCalendar(tuple(events))


def load_breadth(path: str | Path) -> Breadth:
    path = Path(path)
    ad: list[tuple[int, dt.date, float]] = []
    net: list[tuple[int, dt.date, float]] = []
    for line, row in _rows(path, ("date", "advances", "declines", "net", "ad_line")):
        day = _date(path, line, row["date"])
        ad.append((line, day, _number(path, line, "ad_line", row["ad_line"])))
        net.append((line, day, _number(path, line, "net", row["net"])))
    return Breadth(ad_line=_series(path, ad), net=_series(path, net))


def _json_pairs(path: Path) -> list[tuple[int, dt.date, float]]:
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise DataFileError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
    if isinstance(data, dict) and set(data) >= {"dates", "values"}:
        dates, values = data["dates"], data["values"]
        if not (isinstance(dates, list) and isinstance(values, list)) or len(dates) != len(values):
            raise DataFileError(f"{path}: `dates` and `values` must be lists of the same length")
        items = list(zip(dates, values, strict=True))
    elif isinstance(data, list):
        items = []
        for i, obj in enumerate(data):
            if not isinstance(obj, dict) or "date" not in obj or "value" not in obj:
                raise DataFileError(f"{path}: item {i} must be an object with `date` and `value`")
            items.append((obj["date"], obj["value"]))
    else:
        raise DataFileError(f'{path}: expected a list of {{"date", "value"}} or {{"dates": [], "values": []}}')
    pairs = []
    for i, (d, v) in enumerate(items):
        where = f"item {i}"
        if not isinstance(d, str):
            raise DataFileError(f"{path}: {where}: date {d!r} must be a YYYY-MM-DD string")
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise DataFileError(f"{path}: {where}: value {v!r} is not a number")
        try:
            day = dt.date.fromisoformat(d)
        except ValueError:
            raise DataFileError(f"{path}: {where}: date {d!r} is not YYYY-MM-DD") from None
        if not math.isfinite(float(v)):
            raise DataFileError(f"{path}: {where}: value {v!r} is not finite")
        pairs.append((i, day, float(v)))
    return pairs


def load_external(path: str | Path, name: str) -> ExternalSeries:
    path = Path(path)
    if path.suffix.lower() == ".json":
        return ExternalSeries(name=name, series=_series(path, _json_pairs(path), json_items=True))
    pairs = [
        (line, _date(path, line, row["date"]), _number(path, line, "value", row["value"]))
        for line, row in _rows(path, ("date", "value"))
    ]
    return ExternalSeries(name=name, series=_series(path, pairs))


def load_externals(rules: list[ExternalRule], base: Path | None = None) -> tuple[ExternalSeries, ...]:
    """Every configured external series; relative paths resolve against `base` (the config file's folder)."""
    out = []
    for rule in rules:
        path = rule.file if base is None or rule.file.is_absolute() else base / rule.file
        out.append(load_external(path, rule.name))
    return tuple(out)


def load_signal_files(
    settings: SignalSettings, base: Path | None = None
) -> tuple[MacroCalendar, Breadth | None, tuple[ExternalSeries, ...]]:
    """Everything file-based the signals read: (macro calendar, breadth, externals). Unset files give empty values."""

    def resolve(p: Path) -> Path:
        return p if base is None or p.is_absolute() else base / p

    cal = settings.macro_calendar_file
    events = load_macro_calendar(resolve(cal)) if cal else MacroCalendar()
    breadth = load_breadth(resolve(settings.breadth_file)) if settings.breadth_file else None
    return events, breadth, load_externals(settings.externals, base)
