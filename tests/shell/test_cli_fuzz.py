"""Hypothesis: any arguments to the operator commands end in a clear message and a small exit code, never a
traceback or an 'internal error' (issue 6, bad input)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cli import EXIT_INTERNAL, main
from bot.journal import Journal

from .helpers import make_intent

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
COMMANDS = ["pending", "approve", "reject", "halt", "resume", "export-journal"]


@pytest.fixture(autouse=True)
def restore_cwd():
    cwd = os.getcwd()
    yield
    os.chdir(cwd)


@pytest.fixture(scope="module")
def journal_file(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("fuzz")
    d.chmod(0o700)
    path = d / "alvh.sqlite"
    with Journal.open(path) as j:
        j.record_intent(make_intent(), mode="approval", needs_approval=True, pending_expiry_s=900, approved_ttl_s=60)
    return path


WORDS = ["--json", "--reason", "--fingerprint", "--out", "--reducing", "--format", "--config", "--journal"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    command=st.sampled_from(COMMANDS),
    args=st.lists(st.one_of(text, st.sampled_from([*WORDS, "L1-e1-VX-open"])), max_size=5),
    use_journal=st.booleans(),
)
def test_any_arguments_fail_cleanly(journal_file: Path, tmp_path_factory, capsys, command, args, use_journal):
    # Relative paths (the default journal runs/alvh.sqlite, random --out or --journal names) land in a scratch dir.
    os.chdir(tmp_path_factory.mktemp("cwd"))
    if command == "export-journal" and "--out" not in args:
        args = [*args, "--out", str(tmp_path_factory.mktemp("out"))]
    argv = [command, *args] + (["--journal", str(journal_file)] if use_journal else [])
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    _, err = capsys.readouterr()
    assert code in (0, 1, 2), (argv, code, err)
    assert code != EXIT_INTERNAL and "Traceback" not in err and "internal error" not in err, (argv, err)
