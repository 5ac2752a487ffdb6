"""Scriptable faults: what can go wrong between a bot and IB Gateway, on demand.

A fault SPEC is `ACTION[@TRIGGER]` (grammar in docs/simulator.md), e.g. `drop@t=120s`, `refuse=30s@rt=10s`,
`error=1101@msg=400`, `reject-next@t=10m`, `quotes=nan:60s@t=1h`, `withhold=openOrderEnd`, `delay=positionEnd:5s`,
`pacing=2@msg=50`. Without a trigger a fault fires as soon as the simulator starts. Effect durations are wall-clock
seconds, because the bot's own timers and reconnect backoff run on the wall clock; triggers can be simulated time
since the scenario start (t=), real time since the simulator started (rt=), or the count of client messages (msg=).
Tests call the same actions directly on `Faults`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from bot.logs import get_logger
from bot.sim.messages import END_MESSAGES

log = get_logger("bot.sim.faults")

BROADCAST_CODES = {
    1100: "Connectivity between IB and Trader Workstation has been lost.",
    1101: "Connectivity between IB and TWS has been restored - data lost.",
    1102: "Connectivity between IB and TWS has been restored - data maintained.",
}
QUOTE_MODES = ("stop", "nan", "neg", "zero", "crossed")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smh]?)$")
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}


class FaultSpecError(ValueError):
    """A --fault SPEC that does not follow the grammar; the message says what is wrong and shows an example."""


class FaultTarget(Protocol):
    """What the server exposes for faults that act on connections."""

    def drop_connections(self) -> int: ...

    def refuse_connections(self, seconds: float) -> None: ...

    def broadcast_error(self, code: int, message: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Trigger:
    kind: str  # "start", "t" (simulated s since scenario start), "rt" (real s since start), "msg" (messages received)
    value: float = 0.0


@dataclass(frozen=True, slots=True)
class FaultSpec:
    text: str
    action: str
    args: tuple[object, ...]
    trigger: Trigger


def parse_duration(text: str, spec: str) -> float:
    m = _DURATION.match(text.strip())
    if not m:
        raise FaultSpecError(f"bad duration {text!r} in fault {spec!r}: use a number with s, m or h, e.g. 30s or 5m")
    return float(m.group(1)) * _UNITS[m.group(2)]


def _count(text: str, spec: str, what: str) -> int:
    if not text.isdigit() or int(text) <= 0:
        raise FaultSpecError(f"bad {what} {text!r} in fault {spec!r}: use a positive whole number")
    return int(text)


def _end_name(text: str, spec: str) -> str:
    if text not in END_MESSAGES:
        raise FaultSpecError(f"unknown End message {text!r} in fault {spec!r}; one of: {', '.join(END_MESSAGES)}")
    return text


def parse_fault_spec(spec: str) -> FaultSpec:
    """Parse one SPEC; raises FaultSpecError naming the problem and the fix."""
    text = spec.strip()
    if not text:
        raise FaultSpecError("empty fault spec; e.g. drop@t=120s")
    action_text, _, trigger_text = text.partition("@")
    trigger = Trigger("start")
    if trigger_text:
        kind, eq, value = trigger_text.partition("=")
        if not eq or kind not in ("t", "rt", "msg"):
            raise FaultSpecError(f"bad trigger {trigger_text!r} in fault {spec!r}: use @t=DUR, @rt=DUR or @msg=N")
        number = float(_count(value, spec, "message count")) if kind == "msg" else parse_duration(value, spec)
        trigger = Trigger(kind, number)
    name, has_arg, arg = action_text.partition("=")
    args: tuple[object, ...]
    if name == "drop" and not has_arg:
        args = ()
    elif name == "refuse" and has_arg:
        args = (parse_duration(arg, spec),)
    elif name == "error" and has_arg:
        if not arg.isdigit() or int(arg) not in BROADCAST_CODES:
            raise FaultSpecError(f"fault {spec!r}: error code must be one of {sorted(BROADCAST_CODES)}")
        args = (int(arg),)
    elif name in ("reject-next", "pacing", "clientid-in-use"):
        args = (_count(arg, spec, "count") if has_arg else 1,)
    elif name == "partial":
        args = (float(_count(arg, spec, "quantity")) if has_arg else None,)
    elif name == "quotes" and has_arg:
        mode, colon, duration = arg.partition(":")
        if mode not in QUOTE_MODES or not colon:
            raise FaultSpecError(f"fault {spec!r}: use quotes=MODE:DUR with MODE one of {', '.join(QUOTE_MODES)}")
        args = (mode, parse_duration(duration, spec))
    elif name == "withhold" and has_arg:
        end, colon, duration = arg.partition(":")
        args = (_end_name(end, spec), parse_duration(duration, spec) if colon else None)
    elif name == "delay" and has_arg:
        end, colon, duration = arg.partition(":")
        if not colon:
            raise FaultSpecError(f"fault {spec!r}: use delay=END:DUR, e.g. delay=positionEnd:5s")
        args = (_end_name(end, spec), parse_duration(duration, spec))
    else:
        raise FaultSpecError(
            f"unknown fault {spec!r}; actions: drop, refuse=DUR, error=1100|1101|1102, reject-next[=N], "
            "partial[=QTY], quotes=stop|nan|neg|zero|crossed:DUR, withhold=END[:DUR], delay=END:DUR, "
            "clientid-in-use[=N], pacing[=N]; optional trigger @t=DUR, @rt=DUR or @msg=N"
        )
    return FaultSpec(text, name, args, trigger)


@dataclass
class Faults:
    """Live fault state the server consults, plus the schedule of faults still to fire."""

    target: FaultTarget | None = None
    pending: list[FaultSpec] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)
    reject_next_count: int = 0
    partial_next: list[float | None] = field(default_factory=list)
    clientid_in_use_count: int = 0
    pacing_count: int = 0
    _quotes: tuple[str, float] | None = None  # (mode, until monotonic)
    _withheld: dict[str, float | None] = field(default_factory=dict)  # name -> until monotonic (None = forever)
    _delayed: dict[str, float] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic

    # ---- actions (called by the schedule or directly by tests) ----
    def drop(self) -> None:
        n = self._require_target().drop_connections()
        self._fired("drop", connections=n)

    def refuse(self, seconds: float) -> None:
        self._require_target().refuse_connections(seconds)
        self._fired("refuse", seconds=seconds)

    def broadcast(self, code: int) -> None:
        if code not in BROADCAST_CODES:
            raise ValueError(f"error {code} is not a connectivity broadcast; use one of {sorted(BROADCAST_CODES)}")
        self._require_target().broadcast_error(code, BROADCAST_CODES[code])
        self._fired("error", code=code)

    def reject_next(self, count: int = 1) -> None:
        self.reject_next_count += count
        self._fired("reject-next", count=count)

    def partial(self, quantity: float | None = None) -> None:
        """The next order fills only `quantity` (default: half, at least 1); the rest rests unfilled until cancelled."""
        self.partial_next.append(quantity)
        self._fired("partial", quantity=quantity)

    def quotes(self, mode: str, seconds: float) -> None:
        if mode not in QUOTE_MODES:
            raise ValueError(f"quote fault mode must be one of {QUOTE_MODES}, got {mode!r}")
        self._quotes = (mode, self.clock() + seconds)
        self._fired("quotes", mode=mode, seconds=seconds)

    def withhold(self, end_name: str, seconds: float | None = None) -> None:
        _end_name(end_name, f"withhold={end_name}")
        self._withheld[end_name] = None if seconds is None else self.clock() + seconds
        self._fired("withhold", message=end_name, seconds=seconds)

    def delay(self, end_name: str, seconds: float) -> None:
        _end_name(end_name, f"delay={end_name}")
        self._delayed[end_name] = seconds
        self._fired("delay", message=end_name, seconds=seconds)

    def clientid_in_use(self, count: int = 1) -> None:
        self.clientid_in_use_count += count
        self._fired("clientid-in-use", count=count)

    def pacing(self, count: int = 1) -> None:
        self.pacing_count += count
        self._fired("pacing", count=count)

    def clear(self) -> None:
        """End every lasting effect (quotes, withheld/delayed End messages, queued one-shot faults)."""
        self._quotes = None
        self._withheld.clear()
        self._delayed.clear()
        self.reject_next_count = self.clientid_in_use_count = self.pacing_count = 0
        self.partial_next.clear()

    # ---- queries the server makes ----
    def quote_mode(self) -> str | None:
        if self._quotes is None:
            return None
        mode, until = self._quotes
        if self.clock() >= until:
            self._quotes = None
            log.info("fault ended", fault="quotes", mode=mode)
            return None
        return mode

    def end_delay(self, end_name: str) -> float | None:
        """None: send now; a number: send after that many seconds; math.inf: withhold."""
        if end_name in self._withheld:
            until = self._withheld[end_name]
            if until is None or self.clock() < until:
                return float("inf")
            del self._withheld[end_name]
        return self._delayed.get(end_name)

    def take_reject(self) -> bool:
        if self.reject_next_count > 0:
            self.reject_next_count -= 1
            return True
        return False

    def take_partial(self) -> tuple[bool, float | None]:
        if self.partial_next:
            return True, self.partial_next.pop(0)
        return False, None

    def take_clientid_in_use(self) -> bool:
        if self.clientid_in_use_count > 0:
            self.clientid_in_use_count -= 1
            return True
        return False

    def take_pacing(self) -> bool:
        if self.pacing_count > 0:
            self.pacing_count -= 1
            return True
        return False

    # ---- schedule ----
    def schedule(self, spec: FaultSpec | str) -> None:
        self.pending.append(parse_fault_spec(spec) if isinstance(spec, str) else spec)

    def check(self, sim_elapsed_s: float, real_elapsed_s: float, messages: int) -> None:
        """Fire every pending fault whose trigger is due."""
        due = [s for s in self.pending if _due(s.trigger, sim_elapsed_s, real_elapsed_s, messages)]
        for spec in due:
            self.pending.remove(spec)
            log.info("fault triggered", spec=spec.text, trigger=spec.trigger.kind, at=spec.trigger.value)
            self.apply(spec)

    def apply(self, spec: FaultSpec) -> None:
        """Run the action a parsed SPEC names, with the arguments the parser already typed and ordered."""
        getattr(self, _METHODS[spec.action])(*spec.args)

    def _require_target(self) -> FaultTarget:
        if self.target is None:
            raise RuntimeError("this fault acts on connections: start the simulator first")
        return self.target

    def _fired(self, name: str, **details: object) -> None:
        self.fired.append(name)
        log.warning("fault fired", fault=name, **details)


# SPEC action -> Faults method; parse_fault_spec produces the method's positional arguments in order.
_METHODS = {
    "drop": "drop",
    "refuse": "refuse",
    "error": "broadcast",
    "reject-next": "reject_next",
    "partial": "partial",
    "quotes": "quotes",
    "withhold": "withhold",
    "delay": "delay",
    "clientid-in-use": "clientid_in_use",
    "pacing": "pacing",
}


def _due(trigger: Trigger, sim_s: float, real_s: float, messages: int) -> bool:
    if trigger.kind == "start":
        return True
    if trigger.kind == "t":
        return sim_s >= trigger.value
    if trigger.kind == "rt":
        return real_s >= trigger.value
    return messages >= trigger.value
