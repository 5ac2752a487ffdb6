"""The full fault matrix, on demand: every fault of tests/reliability against a real bot process, plus SIGKILLs.

    python benchmarks/faults.py [--kills 50] [--kill-runs 5] [--repeat 1] [--jobs 2] [--seed 7]

Prints the matrix (fault, injected, recovered, halted, duplicates, lost fills, unsafe sends, recovery seconds) and
ends with ONE JSON line: faults_injected, recovered, halted, duplicates, lost_fills, unsafe_sends,
recovery_median_s, recovery_worst_s. Targets: zero duplicates, lost fills and unsafe sends; every fault recovered
within 30 s of the gateway returning or halted with a reason. The invariants are defined in
tests/reliability/harness.py and docs/reliability.md. Exit code 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]  # the harness lives with the tests (as pytest imports it)

from reliability.harness import CASES, Outcome, run_case, run_kills, summary, table  # noqa: E402

from bot.logs import configure_logging  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=60, help="SIGKILLs in total (at least 50 for the full run)")
    parser.add_argument("--kill-runs", type=int, default=6, help="bot/simulator pairs the kills are spread over")
    parser.add_argument("--repeat", type=int, default=1, help="runs of every other fault")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once (each is a simulator and a bot process)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the random kill moments")
    args = parser.parse_args()
    configure_logging("console", "error")
    started = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="alvh-faults-"))
    jobs: list[tuple[str, int]] = [(name, i) for i in range(args.repeat) for name in CASES]
    per_run = [
        args.kills // args.kill_runs + (1 if i < args.kills % args.kill_runs else 0) for i in range(args.kill_runs)
    ]

    work = jobs + [("kills", i) for i in range(args.kill_runs) if per_run[i] > 0]

    def one(n: int) -> Outcome:
        name, i = work[n]
        tmp = base / f"run{n:03d}"
        if name == "kills":
            return run_kills(tmp, per_run[i], seed=args.seed + i)
        return run_case(name, tmp)

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        rows = list(pool.map(one, range(len(work))))
    print(table(rows))
    for row in rows:
        for problem in row.problems:
            print(f"  {row.fault}: {problem}")
    figures = summary(rows)
    figures["runs"] = len(rows)
    figures["wall_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(figures))
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
