"""Loaders: the shared file formats parse to pure values, and bad files get errors naming file, line and problem."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from bot.settings.signals import ExternalRule, SignalSettings
from bot.signals.loaders import (
    DataFileError,
    load_breadth,
    load_external,
    load_macro_calendar,
    load_signal_files,
)

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_macro_calendar_parses_and_sorts(tmp_path):
    p = write(
        tmp_path,
        "m.csv",
        "date,event,description,scheduled,source\n2018-03-21,FOMC,decision,True,x\n2018-02-14,cpi,Jan CPI,False,y\n",
    )
    cal = load_macro_calendar(p)
    assert [(e.date, e.event, e.scheduled) for e in cal.events] == [
        (dt.date(2018, 2, 14), "CPI", False),
        (dt.date(2018, 3, 21), "FOMC", True),
    ]
    assert cal.between(dt.date(2018, 3, 1), dt.date(2018, 3, 31))[0].event == "FOMC"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("date,event\n2018-01-01,CPI\n", "lacks column(s) ['description', 'scheduled', 'source']"),
        ("date,event,description,scheduled,source\n2018-13-01,CPI,,True,x\n", ":2: date '2018-13-01' is not"),
        ("date,event,description,scheduled,source\n2018-01-02,CPI,,maybe,x\n", ":2: scheduled 'maybe'"),
        ("date,event,description,scheduled,source\n2018-01-02,,,True,x\n", ":2: empty event"),
        ("date,event,description,scheduled,source\n", "no events"),
    ],
)
def test_macro_calendar_errors_name_file_and_line(tmp_path, text, message):
    p = write(tmp_path, "m.csv", text)
    with pytest.raises(DataFileError) as info:
        load_macro_calendar(p)
    assert str(p) in str(info.value) and message in str(info.value)


def test_breadth_parses_and_refuses_bad_rows(tmp_path):
    header = "date,advances,declines,net,ad_line\n"
    ok = write(tmp_path, "b.csv", header + "2016-06-16,2000,1000,1000,5000\n2016-06-17,900,2100,-1200,3800\n")
    b = load_breadth(ok)
    assert b.ad_line.values.tolist() == [5000.0, 3800.0] and b.net.values.tolist() == [1000.0, -1200.0]
    bad = write(tmp_path, "bad.csv", "date,advances,declines,net,ad_line\n2016-06-16,1,1,x,1\n")
    with pytest.raises(DataFileError, match=r"bad.csv:2: net 'x' is not a number"):
        load_breadth(bad)
    unsorted = write(tmp_path, "u.csv", "date,advances,declines,net,ad_line\n2016-06-17,1,1,0,1\n2016-06-16,1,1,0,1\n")
    with pytest.raises(DataFileError, match=r"u.csv:3: date 2016-06-16 does not come after 2016-06-17"):
        load_breadth(unsorted)
    nan = write(tmp_path, "n.csv", "date,advances,declines,net,ad_line\n2016-06-17,1,1,nan,1\n")
    with pytest.raises(DataFileError, match="not finite"):
        load_breadth(nan)


def test_external_csv_and_both_json_shapes(tmp_path):
    csv_path = write(tmp_path, "pe.csv", "date,value\n2018-01-31,21.5\n2018-02-28,19.0\n")
    rows = [{"date": "2018-01-31", "value": 21.5}, {"date": "2018-02-28", "value": 19}]
    as_list = write(tmp_path, "pe.json", json.dumps(rows))
    as_cols = write(tmp_path, "pe2.json", json.dumps({"dates": ["2018-01-31", "2018-02-28"], "values": [21.5, 19.0]}))
    loaded = [load_external(p, "pe") for p in (csv_path, as_list, as_cols)]
    assert loaded[0] == loaded[1] == loaded[2]
    assert loaded[0].series.dates == (dt.date(2018, 1, 31), dt.date(2018, 2, 28))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"dates": ["2018-01-01"], "values": []}', "same length"),
        ('[{"date": "2018-01-01"}]', "item 0 must be an object with `date` and `value`"),
        ('[{"date": "2018-01-01", "value": "3"}]', "item 0: value '3' is not a number"),
        ('[{"date": "01/02/2018", "value": 3}]', "item 0: date '01/02/2018' is not YYYY-MM-DD"),
        ('[{"date": "2018-01-02", "value": 3}, {"date": "2018-01-01", "value": 3}]', "item 1: date 2018-01-01"),
        ('"hello"', "expected a list"),
        ("[]", "no data rows"),
    ],
)
def test_external_json_errors(tmp_path, text, message):
    p = write(tmp_path, "x.json", text)
    with pytest.raises(DataFileError) as info:
        load_external(p, "x")
    assert str(p) in str(info.value) and message in str(info.value)


def test_missing_file_names_the_fix(tmp_path):
    with pytest.raises(DataFileError, match="no such file"):
        load_external(tmp_path / "nope.csv", "x")


def test_load_signal_files_resolves_relative_paths(tmp_path):
    write(tmp_path, "pe.csv", "date,value\n2018-01-31,21.5\n")
    write(tmp_path, "cal.csv", "date,event,description,scheduled,source\n2018-03-21,FOMC,,True,x\n")
    rule = ExternalRule(name="pe", file=Path("pe.csv"), direction="below", threshold=15)
    s = SignalSettings(externals=[rule], macro_calendar_file=Path("cal.csv"))
    cal, breadth, externals = load_signal_files(s, base=tmp_path)
    assert len(cal.events) == 1 and breadth is None and externals[0].name == "pe"


def test_the_shared_data_files_load():
    if not (DATA / "macro_calendar.csv").exists():
        pytest.skip(f"shared data not found at {DATA}")
    cal = load_macro_calendar(DATA / "macro_calendar.csv")
    assert {"FOMC", "CPI"} <= {e.event for e in cal.events}
    breadth = load_breadth(DATA / "nyse_adv_dec.csv")
    assert breadth.net.last_date == dt.date(2016, 6, 17)
