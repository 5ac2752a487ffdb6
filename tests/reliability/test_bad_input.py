"""Bad input never ends in a traceback: generated configuration files, arguments of every `alvh` sub-command and
corrupted backtest data each give one clear message and exit code 2.

The operator commands (pending, approve, reject, halt, resume, export-journal) are fuzzed in
tests/shell/test_cli_fuzz.py and the approval refusals (unknown, expired, already decided ids) are tested in
tests/shell/test_approvals.py and tests/shell/test_cli.py; they are not repeated here. `bot.cli.main` runs
in-process for speed; a few cases go through `python -m bot` to prove the real entry point behaves the same.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cli import EXIT_USAGE, main
from bot.config import AppConfig

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = {name: list(type(getattr(AppConfig(), name)).model_fields) for name in AppConfig.model_fields}
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

words = st.text(st.characters(whitelist_categories=("Ll", "Lu", "Nd"), whitelist_characters="_-"), max_size=12)
scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.lists(st.integers(min_value=-5, max_value=5), max_size=3),
)


@st.composite
def config_mappings(draw: st.DrawFn) -> dict[str, Any]:
    """Real sections and keys (and some unknown ones) with values of random type and range."""
    out: dict[str, Any] = {}
    for _ in range(draw(st.integers(1, 4))):
        section = draw(st.sampled_from(sorted(SECTIONS)) | words.filter(bool))
        keys = SECTIONS.get(section, [])
        body = out.setdefault(section, {})
        for _ in range(draw(st.integers(1, 3))):
            key = draw(st.sampled_from(keys) if keys else words.filter(bool)) if draw(st.booleans()) else draw(words)
            if key:
                body[key] = draw(scalars)
    return out


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return (
            "nan" if value != value else ("inf" if value > 0 else "-inf") if abs(value) == float("inf") else repr(value)
        )
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value)  # a TOML basic string is a JSON string for these characters


def toml_text(data: dict[str, Any]) -> str:
    lines = []
    for section, body in data.items():
        lines.append(f"[{json.dumps(section)}]")
        lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in body.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture(autouse=True)
def no_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALVH_DEBUG", raising=False)


def exit_code(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        return int(exc.code or 0)


def assert_clean(code: int, err: str, allowed: tuple[int, ...] = (EXIT_USAGE,)) -> None:
    assert code in allowed, f"exit {code}: {err[-800:]}"
    assert "Traceback" not in err and "internal error" not in err, err[-800:]
    if code == EXIT_USAGE:
        assert err.strip(), "a refusal must say why"


# ---------------------------------------------------------------------------------------------------- configs
@FUZZ
@given(data=config_mappings())
def test_generated_configs_are_accepted_or_refused_clearly(tmp_path: Path, capsys, data: dict[str, Any]) -> None:
    path = tmp_path / "fuzz.toml"
    path.write_text(toml_text(data), encoding="utf-8")
    code = exit_code(["check-config", str(path)])
    err = capsys.readouterr().err
    assert_clean(code, err, (0, EXIT_USAGE))
    if code == EXIT_USAGE:
        assert str(path) in err, "the message names the file"
        # the bot refuses the same file before connecting to anything
        assert exit_code(["run", "--config", str(path)]) == EXIT_USAGE
        assert_clean(EXIT_USAGE, capsys.readouterr().err)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("[bot]\nmode = 3\n", "bot.mode"),
        ("[bot]\nno_such_key = 1\n", "bot.no_such_key"),
        ("[nonsense]\nx = 1\n", "nonsense"),
        ("[risk]\nmax_quote_age_s = -5\n", "risk.max_quote_age_s"),
        ("[execution]\nladder_steps = 0\n", "execution.ladder_steps"),
        ('[broker]\nport = "four"\n', "broker.port"),
        ("[bot\nmode = 'paper'\n", "not valid TOML"),
        ("\xff\xfe binary", "UTF-8"),
    ],
)
def test_each_kind_of_config_mistake_is_named(tmp_path: Path, capsys, text: str, names: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_bytes(text.encode("latin-1"))
    assert exit_code(["run", "--config", str(path)]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert_clean(EXIT_USAGE, err)
    assert names in err


# ---------------------------------------------------------------------------------------------------- arguments
# Each long-running command gets one argument that is certainly bad, placed LAST so it wins over a random one of
# the same name: the call must fail fast and cleanly, never start a simulator, a bot or a backtest.
OPTIONS = {
    "run": ["--config", "--mode", "--live", "--log-format", "--sim-fault"],
    "sim": ["--port", "--scenario", "--replay", "--speed", "--account", "--fault", "--seed", "--start", "--config"],
    "backtest": ["--data", "--config", "--start", "--end", "--out", "--json"],
    "status": ["--json", "--journal", "--config"],
    "check-config": [],
}
garbage = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=15)


def certainly_bad(command: str, tmp: Path) -> list[str]:
    broken = tmp / "broken.toml"
    broken.write_text("[bot\n", encoding="utf-8")
    missing = str(tmp / "missing-dir")
    return {
        "run": ["--config", str(broken)],
        "sim": ["--fault", "no-such-fault", "--port", "0"],
        "backtest": ["--data", missing],
        "status": ["--journal", str(tmp / "missing.sqlite")],
        "check-config": [str(broken)],
    }[command]


@FUZZ
@given(command=st.sampled_from(sorted(OPTIONS)), data=st.data())
def test_random_arguments_to_every_command_fail_cleanly(tmp_path: Path, capsys, command: str, data) -> None:
    opts = OPTIONS[command]
    tokens = data.draw(st.lists(st.sampled_from(opts) | garbage, max_size=6) if opts else st.lists(garbage, max_size=2))
    code = exit_code([command, *tokens, *certainly_bad(command, tmp_path)])
    assert_clean(code, capsys.readouterr().err, (EXIT_USAGE,))


@pytest.mark.timeout(60)
def test_sweep_with_a_missing_data_directory_fails_fast(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ALVH_DEBUG"}
    argv = [sys.executable, "-m", "bot", "sweep", "--data", str(tmp_path / "missing")]
    try:
        result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("alvh sweep --data MISSING hangs (its pool workers fail in their initializer and are respawned)")
    assert_clean(result.returncode, result.stderr)


def test_an_unknown_command_and_no_command_are_usage_errors(capsys) -> None:
    for argv in (["no-such-command"], [], ["run"], ["sim", "--speed", "fast"]):
        assert exit_code(argv) == EXIT_USAGE
        assert_clean(EXIT_USAGE, capsys.readouterr().err)


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--config", "/nonexistent/alvh.toml"],
        ["run", "--config", "{config}", "--mode", "yolo"],
        ["sim", "--fault", "drop@t=soon"],
        ["backtest", "--data", "/nonexistent"],
        ["approve", "no-such-id", "--journal", "/nonexistent/alvh.sqlite"],
    ],
)
def test_the_real_entry_point_exits_2_without_a_traceback(tmp_path: Path, argv: list[str]) -> None:
    config = tmp_path / "ok.toml"
    config.write_text("", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "ALVH_DEBUG"}
    args = [a.replace("{config}", str(config)) for a in argv]
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert_clean(result.returncode, result.stderr)


# ---------------------------------------------------------------------------------------------------- backtest data
@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from backtest.synth import make_data_dir

    return make_data_dir(tmp_path_factory.mktemp("synth"), n_days=60, spike_at=30)


REQUIRED = {  # file -> columns the loader requires (a bad cell there must stop the load)
    "spx_daily.csv": ["date", "close"],
    "vix_family_daily.csv": ["date", "vix_close"],
    "fed_funds_daily.csv": ["date", "value"],
}
bad_cells = st.sampled_from(["oops", "1e999x", "--", "2019-02-30", "NaNa", "#"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(REQUIRED)), row=st.integers(0, 40), pick=st.integers(0, 1), cell=bad_cells)
def test_a_corrupted_cell_names_the_file_and_line(
    data_dir: Path, tmp_path_factory, capsys, name: str, row: int, pick: int, cell: str
) -> None:
    bad = tmp_path_factory.mktemp("bad")
    shutil.copytree(data_dir, bad, dirs_exist_ok=True)
    path = bad / name
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    column = REQUIRED[name][pick]
    row %= len(lines) - 1  # the files have different lengths (fed funds is short)
    fields = lines[row + 1].split(",")
    fields[header.index(column)] = cell
    lines[row + 1] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code = exit_code(["backtest", "--data", str(bad)])
    err = capsys.readouterr().err
    assert_clean(code, err)
    assert f"{path}:{row + 2}" in err, err
