"""The fault-matrix harness: a real bot process against the gateway simulator, a fault at a chosen moment, and the
invariants checked from what the simulator saw (its orders log) and what the bot wrote (its journal, read-only).

Why this shape:
- The simulator runs in THIS process (SimulatorThread on an AnchoredClock, as in tests/e2e), so the harness can fire
  a fault at an exact protocol moment: a probe wraps the simulator's orders-log writer and runs an action when a
  given event is logged (e.g. drop every connection the instant the first ladder order arrives, before the
  simulator even acknowledges it; or the instant a fill is made, so the bot only learns of it after reconnecting).
- The bot is a separate process (tests/e2e/bot_child.py: the Engine exactly as `alvh run` builds it, on the same
  anchored clock), so a SIGKILL is a real crash and a restart re-reads a real journal.

The invariants (the matrix columns):
- duplicates: per orderRef (= intent id), the executor works ONE order at a time: a ladder step is sent only after
  the previous order of the intent is confirmed finished (re-pricing is a new order, never a second live one). So,
  in the simulator's log: never two orders of one orderRef working (PreSubmitted/Submitted) at once; the quantity
  filled over all orders of an intent never exceeds the intent's quantity; no order of an intent after the
  exchange rejected it; every orderRef that reached the exchange is an intent in the journal.
- lost fills: every execId the simulator made before the bot was told to stop is in the journal's fills table.
- unsafe sends: a `place` while the bot must not send: inside a fault's window (1100 until 1101/1102; a dropped
  connection until the gateway's reconciliation answers can be complete; quotes corrupted; after a halt), or for
  an instrument whose exchange is closed at that market time.
- recovered / recovery seconds: from the gateway returning (drop, refused port reopening, 1101/1102, End messages
  released; for a kill, the restart) to the bot journaling `connected`/`restored` and (for faults that leave the
  connection up) sending again, or the bot halted with a reason in the journal.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import math
import random
import signal
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from e2e.helpers import START, orders, places, start_bot, stop

from bot.engine.clock import AnchoredClock
from bot.engine.simhost import PUSH_INTERVAL_S
from bot.journal import Journal
from bot.risk import TradingState
from bot.sim.market.factory import build_market
from bot.sim.runner import Simulator, SimulatorThread

SPEED = 20_000  # one market day in about 1.2 s: the spike's first ladders come within seconds of the bot's start
RECOVERY_LIMIT_S = 30.0  # the promise: recovered within this many seconds of the gateway returning, or halted
QUOTE_GRACE_S = 0.3  # a ladder step priced on a quote received just before the corruption may still go out
HALT_GRACE_S = 0.5  # the engine reads the trading state at its next cycle
LIVE = ("PreSubmitted", "Submitted")
# At 20,000x the engine's stale-data halt floor is 10 simulator pushes (0.2 s of wall time): on a loaded 2-core
# machine a scheduling hiccup that long is common and would halt most runs before the fault. 60,000 market seconds
# is 3 s of wall time here; a real outage of that length still halts (see "quotes stale" in docs/reliability.md).
HARNESS_SECTIONS: dict[str, Any] = {"risk": {"halt_on_stale_data_s": 60_000.0}}
RESTORED = ("connected", "restored", "restored_data_lost")


@dataclasses.dataclass
class Window:
    """Wall-clock interval (time.time()) during which the bot must send nothing."""

    why: str
    start: float
    end: float
    new_intents_only: bool = False  # a halt: the ladder already working may finish its steps; no new intent starts


@dataclasses.dataclass
class Outcome:
    """One row of the matrix."""

    fault: str
    injected: int = 0
    recovered: bool = False
    halted: str | None = None
    duplicates: int = 0
    lost_fills: int = 0
    unsafe_sends: int = 0
    closed_sends: int = 0  # orders the bot sent while the instrument's exchange was closed
    recovery_s: list[float] = dataclasses.field(default_factory=list)
    problems: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        safe = self.duplicates == 0 and self.lost_fills == 0 and self.unsafe_sends == 0 and self.closed_sends == 0
        timely = all(r <= RECOVERY_LIMIT_S for r in self.recovery_s)
        return self.injected > 0 and safe and ((self.recovered and timely) or self.halted is not None)


class Probe:
    """Runs actions on the simulator's loop when an orders-log event matches (one-shot hooks)."""

    def __init__(self, thread: SimulatorThread) -> None:
        self.thread = thread
        self._hooks: list[tuple[str, Callable[[dict[str, Any]], bool], Callable[[Simulator], None], bool, Fired]] = []
        self._lock = threading.Lock()
        thread.call(self._install)

    def _install(self, sim: Simulator) -> None:
        original = sim.server.orders_log.write

        def write(event: str, sim_time: Any, **fields: Any) -> None:
            original(event, sim_time, **fields)
            with self._lock:
                due = [h for h in self._hooks if h[0] == event and h[1](fields)]
                for h in due:
                    self._hooks.remove(h)
            for _, _, action, sync, fired in due:
                if sync:  # inside the simulator's handling of this event: before any answer reaches the bot
                    fired.run(action, sim)
                else:  # right after the simulator finished handling it
                    asyncio_loop = self.thread._loop
                    assert asyncio_loop is not None
                    asyncio_loop.call_soon(fired.run, action, sim)

        sim.server.orders_log.write = write  # type: ignore[method-assign]

    def on(
        self,
        event: str,
        action: Callable[[Simulator], None],
        *,
        when: Callable[[dict[str, Any]], bool] = lambda _r: True,
        sync: bool = False,
    ) -> Fired:
        fired = Fired()
        with self._lock:
            self._hooks.append((event, when, action, sync, fired))
        return fired


class Fired:
    """When a hook's action ran (wall clock), for the harness thread to wait on."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.at = math.nan

    def run(self, action: Callable[[Simulator], None], sim: Simulator) -> None:
        self.at = time.time()
        try:
            action(sim)
        finally:
            self.event.set()

    def wait(self, timeout: float, what: str) -> float:
        if not self.event.wait(timeout):
            raise FaultNotInjected(f"{what} did not happen within {timeout} s")
        return self.at


class FaultNotInjected(Exception):
    """The moment a fault waits for never came (e.g. the bot placed no order): the row reports injected 0."""


# ---------------------------------------------------------------------------------------------------- journal
def journal_rows(journal: Path, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read the bot's journal without ever writing it (the bot may be running)."""
    if not journal.exists():
        return []
    conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5.0)
    try:
        return list(conn.execute(sql, args))
    except sqlite3.OperationalError:  # not created yet (the bot is still migrating the schema)
        return []
    finally:
        conn.close()


def epoch(text: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(text).timestamp()


def connection_events(journal: Path) -> list[tuple[float, str]]:
    rows = journal_rows(journal, "SELECT at, code FROM events WHERE kind='connection' ORDER BY id")
    return [(epoch(at), code) for at, code in rows]


def halt_reason(journal: Path) -> str | None:
    rows = journal_rows(journal, "SELECT state, reason FROM trading_state WHERE id=1")
    return rows[0][1] if rows and rows[0][0] == TradingState.HALTED.value else None


def intent_quantities(journal: Path) -> dict[str, float]:
    return {r[0]: float(r[1]) for r in journal_rows(journal, "SELECT id, quantity FROM intents")}


def journal_exec_ids(journal: Path) -> set[str]:
    return {r[0] for r in journal_rows(journal, "SELECT exec_id FROM fills")}


# ---------------------------------------------------------------------------------------------------- invariants
def duplicate_violations(log: list[dict[str, Any]], quantities: dict[str, float]) -> list[str]:
    """Every breach of "an intent is never sent twice" in the simulator's log (see the module docstring)."""
    problems: list[str] = []
    working: dict[str, set[int]] = defaultdict(set)
    filled: dict[tuple[str, int], float] = {}
    rejected: set[str] = set()
    for r in log:
        ref = r.get("orderRef") or ""
        if not ref:
            continue
        if r["event"] == "place" and ref in rejected:
            problems.append(f"{ref}: order {r['orderId']} sent after the exchange rejected the intent")
        elif r["event"] == "reject":
            rejected.add(ref)
        elif r["event"] == "status":
            key = (ref, int(r["orderId"]))
            filled[key] = max(filled.get(key, 0.0), float(r["filled"]))
            if r["status"] in LIVE:
                working[ref].add(key[1])
                if len(working[ref]) > 1:
                    problems.append(f"{ref}: orders {sorted(working[ref])} working at once (seq {r['seq']})")
            else:
                working[ref].discard(key[1])
    totals: dict[str, float] = defaultdict(float)
    for (ref, _), qty in filled.items():
        totals[ref] += qty
    for ref in {r.get("orderRef") for r in log if r["event"] == "place" and r.get("orderRef")}:
        if ref not in quantities:
            problems.append(f"{ref} reached the exchange but the journal has no such intent")
    for ref, total in totals.items():
        if ref in quantities and total > quantities[ref] + 1e-9:
            problems.append(f"{ref}: filled {total:g} > intent quantity {quantities[ref]:g}")
    return problems


def lost_fills(log: list[dict[str, Any]], journal: Path, before: float) -> list[str]:
    """execIds the simulator made (before the bot was told to stop) that the journal does not have."""
    made = {r["execId"] for r in log if r["event"] == "fill" and epoch(r["ts"]) < before}
    return sorted(made - journal_exec_ids(journal))


def journal_send_times(journal: Path) -> dict[tuple[str, int], float]:
    """When the bot decided to send each order: its `orders` row, committed just before placeOrder (wall clock)."""
    rows = journal_rows(journal, "SELECT order_ref, order_id, first_seen FROM orders WHERE order_id IS NOT NULL")
    return {(ref, int(order_id)): epoch(seen) for ref, order_id, seen in rows if ref and seen}


def unsafe_sends(
    log: list[dict[str, Any]], windows: list[Window], sent_at: dict[tuple[str, int], float] | None = None
) -> list[str]:
    """Orders sent inside a no-send window.

    An order's send time is the bot's own (`sent_at`, from its journal, the same clock as the windows that open when
    the bot learned of the fault), else the simulator's receipt: an order already on the wire when the bot read a
    1100 reaches the simulator after that instant, yet was sent safely.
    """
    sent_at = sent_at or {}
    problems = []
    first: dict[str, float] = {}
    for r in log:
        if r["event"] == "place":
            first.setdefault(r["orderRef"], epoch(r["ts"]))
    for r in log:
        if r["event"] != "place":
            continue
        t = sent_at.get((r["orderRef"], int(r["orderId"])), epoch(r["ts"]))
        for w in windows:
            if w.new_intents_only and first[r["orderRef"]] < w.start:
                continue
            if w.start <= t <= w.end:
                problems.append(f"order {r['orderId']} ({r['orderRef']}) sent {t - w.start:.3f} s into: {w.why}")
    return problems


def closed_sends(
    log: list[dict[str, Any]], market: Any, clock: AnchoredClock, sent_at: dict[tuple[str, int], float] | None = None
) -> list[str]:
    """Orders the bot sent for an instrument whose exchange was closed (the simulator's hours) at the market instant
    of the send.

    The send instant is the bot's own (`sent_at`, its journal's wall time, mapped through the shared anchored clock),
    else the simulator's receipt: at 20,000x one millisecond of loopback is 20 market seconds, so an order decided
    just before a close reaches the simulator after it, although the bot sent it while the market was open.
    """
    sent_at = sent_at or {}
    problems = []
    for r in log:
        if r["event"] != "place":
            continue
        wall = sent_at.get((r["orderRef"], int(r["orderId"])))
        at = clock.start + dt.timedelta(seconds=(wall - clock.wall_anchor) * clock.speed) if wall else None
        at = at or dt.datetime.fromisoformat(r["sim_time"])
        if not market.is_trading(int(r["conId"]), at):
            problems.append(f"order {r['orderId']} ({r['orderRef']}) sent at {at} while {r['localSymbol']} was closed")
    return problems


# ---------------------------------------------------------------------------------------------------- a run
@dataclasses.dataclass
class Run:
    """One bot process (restartable) against one simulator; what an injection needs."""

    thread: SimulatorThread
    probe: Probe
    anchor: float
    directory: Path
    log: Path
    journal: Path
    out: Path
    sections: str
    windows: list[Window] = dataclasses.field(default_factory=list)
    returns: list[tuple[float, tuple[str, ...]]] = dataclasses.field(default_factory=list)  # gateway back, awaited
    resumes: list[float] = dataclasses.field(default_factory=list)  # no reconnect: the bot must send again after
    proc: Any = None
    injected: int = 0

    def start_bot(self) -> None:
        self.proc = start_bot(self.thread.port, self.anchor, self.journal, self.out, sections=self.sections)

    def sim(self, action: Callable[[Simulator], Any]) -> Any:
        return self.thread.call(action)

    def first_place(self) -> dict[str, Any]:
        wait_until(lambda: bool(places(self.log)), 40, "the bot's first order")
        return places(self.log)[0]


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise FaultNotInjected(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


@contextlib.contextmanager
def running(tmp: Path, faults: tuple[str, ...] = (), sections: dict[str, Any] | None = None) -> Iterator[Run]:
    """A simulator (spike, from the Monday before the jump) and a started bot; both stopped on exit."""
    d = tmp / "run"
    d.mkdir(mode=0o700, parents=True)
    market = build_market("spike")
    anchor = time.time()
    clock = AnchoredClock(START, SPEED, anchor, end=market.info.end)
    log = d / "orders.jsonl"
    with SimulatorThread(market, clock, orders_log=log, tick_interval=PUSH_INTERVAL_S, faults=faults) as thread:
        run = Run(thread, Probe(thread), anchor, d, log, d / "alvh.sqlite", d / "bot.out", json.dumps(sections or {}))
        run.start_bot()
        try:
            yield run
        finally:
            if run.proc is not None and run.proc.poll() is None:
                with contextlib.suppress(Exception):
                    stop(run.proc)
                if run.proc.poll() is None:
                    run.proc.kill()
                    run.proc.wait(timeout=10)


def evaluate(name: str, run: Run, stopped_at: float) -> Outcome:
    """The matrix row for one run, from the orders log and the journal after the bot stopped."""
    market = build_market("spike")  # a fresh, deterministic copy for trading hours (not the one the sim thread uses)
    log = orders(run.log)
    out = Outcome(name, injected=run.injected)
    out.problems += duplicate_violations(log, intent_quantities(run.journal))
    out.duplicates = len(out.problems)
    missing = lost_fills(log, run.journal, stopped_at)
    out.lost_fills = len(missing)
    out.problems += [f"fill {x} made by the simulator is not in the journal" for x in missing]
    sent_at = journal_send_times(run.journal)
    unsafe = unsafe_sends(log, run.windows, sent_at)
    out.unsafe_sends = len(unsafe)
    out.problems += unsafe
    closed = closed_sends(log, market, AnchoredClock(START, SPEED, run.anchor), sent_at)
    out.closed_sends = len(closed)
    out.problems += closed
    out.halted = halt_reason(run.journal)
    events = connection_events(run.journal)
    recovered = True
    for back, codes in run.returns:
        after = [t for t, code in events if code in codes and t >= back]
        if after:
            out.recovery_s.append(max(0.0, after[0] - back))
        else:
            recovered = False
            out.problems.append(f"no {'/'.join(codes)} after the gateway returned at +{back - run.anchor:.1f} s")
    for back in run.resumes:
        sent = [epoch(r["ts"]) for r in log if r["event"] == "place" and epoch(r["ts"]) > back]
        if sent:
            out.recovery_s.append(sent[0] - back)
        elif out.halted is None:
            recovered = False
            out.problems.append(f"nothing sent after the fault ended at +{back - run.anchor:.1f} s, and not halted")
    if run.proc is not None and run.proc.returncode not in (0, None, -signal.SIGKILL):
        recovered = False
        out.problems.append(f"the bot exited with {run.proc.returncode}: {tail(run.out)}")
    out.recovered = recovered and out.injected > 0
    return out


def tail(path: Path, lines: int = 5) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return " | ".join(text.strip().splitlines()[-lines:])


# ---------------------------------------------------------------------------------------------------- the faults
def _drop(sim: Simulator) -> None:
    sim.faults.drop()


def inject_drop_before(run: Run) -> None:
    """Drop once the bot has connected (journaled its start) and before its first order."""
    wait_until(lambda: bool(journal_rows(run.journal, "SELECT 1 FROM events WHERE kind='start'")), 40, "bot start")
    at = time.time()
    run.sim(_drop)
    run.injected += 1
    if places(run.log) and float(epoch(places(run.log)[0]["ts"])) < at:
        raise FaultNotInjected("the first order was placed before the drop: not a drop *before* a ladder")
    run.returns.append((at, ("connected",)))
    run.resumes.append(at)


def inject_drop_during(run: Run) -> None:
    """Drop the instant the first ladder order reaches the simulator (it is accepted; its acknowledgement is lost)."""
    fired = run.probe.on("place", _drop, sync=True)
    at = fired.wait(40, "the first order")
    run.injected += 1
    run.returns.append((at, ("connected",)))


def inject_drop_after(run: Run) -> None:
    """Drop right after the first order finished (filled or cancelled): between two ladders."""
    fired = run.probe.on("status", _drop, when=lambda r: r["status"] in ("Filled", "Cancelled"))
    at = fired.wait(40, "the first finished order")
    run.injected += 1
    run.returns.append((at, ("connected",)))


def inject_fill_while_disconnected(run: Run) -> None:
    """Drop inside the simulator's first fill, before the bot hears of it, and refuse reconnects for 1 s: the fill
    reaches the bot only through the reconciliation after it reconnects."""

    def action(sim: Simulator) -> None:
        sim.faults.drop()
        sim.faults.refuse(1.0)

    at = run.probe.on("fill", action, sync=True).wait(40, "the first fill")
    run.injected += 1
    run.returns.append((at + 1.0, ("connected",)))


def inject_gateway_restart(run: Run, seconds: float = 3.0) -> None:
    """A gateway restart mid-ladder: every connection dropped and the port refused for `seconds`."""

    def action(sim: Simulator) -> None:
        sim.faults.drop()
        sim.faults.refuse(seconds)

    at = run.probe.on("place", action).wait(40, "the first order")
    run.injected += 1
    run.windows.append(Window(f"gateway down (refused {seconds:g} s)", at, at + seconds))
    run.returns.append((at + seconds, ("connected",)))


def inject_connectivity(run: Run, restore: int, seconds: float = 2.0) -> None:
    """1100 mid-ladder, then 1101 or 1102 `seconds` later: nothing may be sent in between."""
    at = run.probe.on("place", lambda s: s.faults.broadcast(1100)).wait(40, "the first order")
    time.sleep(seconds)
    back = time.time()
    run.sim(lambda s: s.faults.broadcast(restore))
    run.injected += 1
    # The window opens when the bot knew: its journal's `degraded` event (the facade flips to DEGRADED as it reads
    # the 1100, before the engine journals it). An order already on the wire when the 1100 left is not unsafe.
    known = [t for t, code in connection_events(run.journal) if code == "degraded" and t >= at]
    run.windows.append(Window(f"degraded (1100 until {restore})", known[0] if known else at, back))
    run.returns.append((back, ("restored_data_lost",) if restore == 1101 else ("restored",)))


def inject_client_id_in_use(run: Run) -> None:
    """Drop mid-ladder and answer the next two reconnects with 326 (another session holds the client id)."""

    def action(sim: Simulator) -> None:
        sim.faults.clientid_in_use(2)
        sim.faults.drop()

    at = run.probe.on("place", action).wait(40, "the first order")
    run.injected += 1
    run.returns.append((at, ("connected",)))


def inject_end_withheld(run: Run, end: str, seconds: float = 2.0) -> None:
    """Drop mid-ladder and withhold one reconciliation End for `seconds`: the bot must wait for a complete read."""

    def action(sim: Simulator) -> None:
        sim.faults.withhold(end, seconds)
        sim.faults.drop()

    at = run.probe.on("place", action).wait(40, "the first order")
    run.injected += 1
    run.windows.append(Window(f"{end} withheld after a drop", at, at + seconds))
    run.returns.append((at + seconds, ("connected",)))


def inject_quotes(run: Run, mode: str, seconds: float = 2.0) -> None:
    """Corrupt every quote the bot sees (stale, NaN, -1, zero, crossed) mid-ladder for `seconds`."""
    at = run.probe.on("place", lambda s: s.faults.quotes(mode, seconds)).wait(40, "the first order")
    run.injected += 1
    run.windows.append(Window(f"quotes {mode}", at + QUOTE_GRACE_S, at + seconds))
    run.resumes.append(at + seconds)


def inject_at_start(run: Run) -> None:
    """For faults armed when the simulator starts (reject-next, partial, pacing): they act on the first orders or
    the first historical requests; the bot must keep trading afterwards."""
    first = run.first_place()
    run.injected += 1
    run.resumes.append(epoch(first["ts"]))


def inject_halt(run: Run) -> None:
    """An operator halt (`alvh halt`, i.e. the journal's trading state) mid-ladder: no new intent may go out."""

    def halt(_sim: Simulator) -> None:
        with Journal.open(run.journal, create=False) as j:
            j.set_trading_state(TradingState.HALTED, "fault matrix: operator halt", by="operator:faults")

    at = run.probe.on("place", halt).wait(40, "the first order")
    run.injected += 1
    run.windows.append(Window("halted", at + HALT_GRACE_S, math.inf, new_intents_only=True))


def inject_kills(run: Run, kills: int, rng: random.Random) -> None:
    """SIGKILL the bot at a random moment during a ladder (0-150 ms after an order reached the simulator), restart
    it at once, `kills` times. Recovery: the restart to the journal's `connected` of the new process."""
    for _ in range(kills):
        seen = len(places(run.log))
        try:
            wait_until(lambda n=seen: len(places(run.log)) > n, 40, "an order of the running bot")
        except FaultNotInjected:
            if run.injected == 0:
                raise
            return  # the scenario has nothing more to trade: the row counts the kills made
        time.sleep(rng.uniform(0.0, 0.15))
        run.proc.send_signal(signal.SIGKILL)
        run.proc.wait(timeout=10)
        run.injected += 1
        restart = time.time()
        run.start_bot()
        run.returns.append((restart, ("connected",)))


# name -> (simulator faults armed at start, bot config sections, injection)
Injection = Callable[[Run], None]
CASES: dict[str, tuple[tuple[str, ...], Injection]] = {
    "drop before a ladder": ((), inject_drop_before),
    "drop during a ladder (ack lost)": ((), inject_drop_during),
    "drop after a ladder": ((), inject_drop_after),
    "fill while disconnected": ((), inject_fill_while_disconnected),
    "gateway restart (refused 3 s)": ((), inject_gateway_restart),
    "1100 then 1101": ((), lambda r: inject_connectivity(r, 1101)),
    "1100 then 1102": ((), lambda r: inject_connectivity(r, 1102)),
    "clientId in use (326 x2)": ((), inject_client_id_in_use),
    "order rejected": (("reject-next",), inject_at_start),
    "partial fill": (("partial",), inject_at_start),
    "openOrderEnd withheld 2 s": ((), lambda r: inject_end_withheld(r, "openOrderEnd")),
    "execDetailsEnd withheld 2 s": ((), lambda r: inject_end_withheld(r, "execDetailsEnd")),
    "quotes stale": ((), lambda r: inject_quotes(r, "stop")),
    "quotes NaN": ((), lambda r: inject_quotes(r, "nan")),
    "quotes -1": ((), lambda r: inject_quotes(r, "neg")),
    "quotes zero": ((), lambda r: inject_quotes(r, "zero")),
    "quotes crossed": ((), lambda r: inject_quotes(r, "crossed")),
    "pacing (historical 162 x3)": (("pacing=3",), inject_at_start),
    "operator halt mid-ladder": ((), inject_halt),
}


def run_case(name: str, tmp: Path, *, settle_s: float = 4.0) -> Outcome:
    faults, inject = CASES[name]
    return _run(name, tmp, faults, inject, settle_s)


def run_kills(tmp: Path, kills: int, seed: int, *, settle_s: float = 4.0) -> Outcome:
    rng = random.Random(seed)
    return _run(f"SIGKILL mid-ladder + restart (x{kills})", tmp, (), lambda r: inject_kills(r, kills, rng), settle_s)


def _run(name: str, tmp: Path, faults: tuple[str, ...], inject: Injection, settle_s: float) -> Outcome:
    with running(tmp, faults, HARNESS_SECTIONS) as run:
        error = None
        try:
            inject(run)
        except FaultNotInjected as exc:
            error = str(exc)
        deadline = time.time() + RECOVERY_LIMIT_S
        if error is None:  # give the bot its promised time to recover, but no longer than needed
            wait_until_recovered(run, deadline, settle_s)
        stopped_at = time.time()
        if run.proc.poll() is None:
            stop(run.proc)
        out = evaluate(name, run, stopped_at)
        if error is not None:
            out.problems.append(error)
        return out


def wait_until_recovered(run: Run, deadline: float, settle_s: float) -> None:
    """Wait until every awaited reconnect and resumption happened (or the deadline), then `settle_s` more."""

    def done() -> bool:
        if run.proc.poll() is not None:
            return True
        events = connection_events(run.journal)
        back_ok = all(any(c in codes and t >= back for t, c in events) for back, codes in run.returns)
        sent = [epoch(r["ts"]) for r in places(run.log)]
        resumed = halt_reason(run.journal) is not None or all(any(t > back for t in sent) for back in run.resumes)
        return back_ok and resumed  # a halted bot must still reconnect: it needs the broker's evidence

    while time.time() < deadline and not done():
        time.sleep(0.05)
    time.sleep(settle_s)


# ---------------------------------------------------------------------------------------------------- the table
COLUMNS = (
    "fault",
    "injected",
    "recovered",
    "halted",
    "duplicates",
    "lost fills",
    "unsafe sends",
    "recovery s",
    "closed sends",
)


def table(rows: list[Outcome]) -> str:
    lines = [" | ".join(COLUMNS), " | ".join("---" for _ in COLUMNS)]
    for o in rows:
        rec = f"{max(o.recovery_s):.2f}" if o.recovery_s else "-"
        lines.append(
            " | ".join(
                [
                    o.fault,
                    str(o.injected),
                    "yes" if o.recovered else "no",
                    o.halted or "-",
                    str(o.duplicates),
                    str(o.lost_fills),
                    str(o.unsafe_sends),
                    rec,
                    str(o.closed_sends),
                ]
            )
        )
    return "\n".join(lines)


def summary(rows: list[Outcome]) -> dict[str, Any]:
    times = sorted(t for o in rows for t in o.recovery_s)
    median = times[len(times) // 2] if len(times) % 2 else (sum(times[len(times) // 2 - 1 : len(times) // 2 + 1]) / 2)
    return {
        "faults_injected": sum(o.injected for o in rows),
        "recovered": sum(o.injected for o in rows if o.recovered),
        "halted": sum(o.injected for o in rows if o.halted is not None),
        "duplicates": sum(o.duplicates for o in rows),
        "lost_fills": sum(o.lost_fills for o in rows),
        "unsafe_sends": sum(o.unsafe_sends for o in rows),
        "closed_sends": sum(o.closed_sends for o in rows),
        "recovery_median_s": round(median, 3) if times else None,
        "recovery_worst_s": round(times[-1], 3) if times else None,
    }
