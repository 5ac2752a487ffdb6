"""Layer state machine: named quorum rules, which rules guard each transition, holding times and cooldowns.

A transition passes only when ALL the rules listed for it pass (each an "M of N" over vote names; `!name` counts
that signal's AGAINST, see bot/signals/quorum.py). An empty list disables the transition. Two guards are built into
the state machine and are not configurable, because the spec fixes them: layer 2 arms and activates only while
layer 1 is active or harvesting, and layer 3 arms and activates only while `vix_level_tail` votes FOR.
"""

from __future__ import annotations

import re
from functools import cached_property

from pydantic import Field, model_validator

from bot.settings.base import Section
from bot.settings.signals import FIXED_SIGNALS, SignalSettings
from bot.signals.quorum import QuorumRule

RULE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
SIGNAL_REF = re.compile(r"^!?(?:[a-z][a-z0-9_]*|external:[a-z][a-z0-9_]{0,31})$")


class QuorumRuleSettings(Section):
    """One named M-of-N rule."""

    name: str = Field(description="rule name, quoted in every transition it allows")
    signals: list[str] = Field(description="vote names; prefix `!` to count that signal's AGAINST as confirmation")
    m: int = Field(ge=1, description="how many of `signals` must confirm")

    @model_validator(mode="after")
    def _valid(self) -> QuorumRuleSettings:
        if not RULE_NAME.match(self.name):
            raise ValueError(f"rule name {self.name!r} must match {RULE_NAME.pattern}")
        if not self.signals:
            raise ValueError(f"rule {self.name!r} lists no signals")
        bad = [s for s in self.signals if not SIGNAL_REF.match(s)]
        if bad:
            raise ValueError(f"rule {self.name!r}: malformed signal reference(s) {bad}")
        unknown = [
            s
            for s in self.signals
            if s.lstrip("!") not in FIXED_SIGNALS and not s.startswith(("external:", "!external:"))
        ]
        if unknown:
            raise ValueError(f"rule {self.name!r}: unknown signal(s) {unknown}; known: {', '.join(FIXED_SIGNALS)}")
        if len(set(self.signals)) != len(self.signals):
            raise ValueError(f"rule {self.name!r} lists a signal twice")
        if self.m > len(self.signals):
            raise ValueError(f"rule {self.name!r}: m={self.m} exceeds its {len(self.signals)} signals")
        return self


def _rule(name: str, m: int, *signals: str) -> QuorumRuleSettings:
    return QuorumRuleSettings(name=name, signals=list(signals), m=m)


CALM = ("!vix_rsi", "!vix_level", "!term_structure")


def default_rules() -> list[QuorumRuleSettings]:
    spike = ("vix_rsi", "vix_level", "term_structure", "macro_event", "breadth")
    return [
        _rule("l1_arm", 2, *spike),
        _rule("l1_activate", 3, *spike),
        _rule("calm", 2, *CALM),
        _rule("stabilizing", 1, "ts_macd_stabilizing"),
        _rule("l2_arm", 1, "ts_macd_building", "term_structure"),
        _rule("l2_activate", 2, "ts_macd_building", "term_structure", "vix_rsi"),
        _rule("l2_thicken", 1, "ts_macd_building", "ts_macd_stabilizing"),
        _rule("l2_thin", 1, "ts_macd_building"),
        _rule("l3_arm", 1, "vix_rsi", "term_structure", "ts_macd_building", "breadth"),
        _rule("l3_activate", 2, "vix_rsi", "term_structure", "ts_macd_building", "breadth"),
        _rule("tail_off", 1, "!vix_level_tail"),
    ]


class LayerRules(Section):
    """Which rules guard each transition of one layer, and its timing guards."""

    arm: list[str] = Field(default_factory=list, description="rules for idle -> armed")
    activate: list[str] = Field(default_factory=list, description="rules for armed -> active (opens the hedge)")
    disarm: list[str] = Field(default_factory=list, description="rules for armed -> idle (spike did not come)")
    harvest: list[str] = Field(default_factory=list, description="rules for active -> harvesting")
    unwind: list[str] = Field(default_factory=list, description="rules for active/harvesting -> unwinding")
    thicken: list[str] = Field(default_factory=list, description="rules to raise thickness (layer 2 only)")
    thin: list[str] = Field(default_factory=list, description="rules to lower thickness while harvesting (layer 2)")
    min_armed_hours: float = Field(
        default=0.0, ge=0, description="time armed before activation (0 = arm and activate in one step)"
    )
    arm_timeout_hours: float = Field(default=120.0, gt=0, description="armed this long without activating -> disarm")
    min_hold_hours: float = Field(
        default=44.0, ge=0, description="time in the current active/harvesting phase before unwinding may start"
    )
    cooldown_hours: float = Field(
        default=68.0, ge=0, description="after a layer returns to idle, no re-arming for this long"
    )

    def referenced(self) -> list[str]:
        return [*self.arm, *self.activate, *self.disarm, *self.harvest, *self.unwind, *self.thicken, *self.thin]


def _layer1() -> LayerRules:
    return LayerRules(
        arm=["l1_arm"], activate=["l1_activate"], disarm=["calm"], harvest=["stabilizing"], unwind=["calm"]
    )


def _layer2() -> LayerRules:
    return LayerRules(
        arm=["l2_arm"],
        activate=["l2_activate"],
        disarm=["calm"],
        harvest=["stabilizing"],
        unwind=["calm"],
        thicken=["l2_thicken"],
        thin=["l2_thin"],
    )


def _layer3() -> LayerRules:
    return LayerRules(
        arm=["l3_arm"],
        activate=["l3_activate"],
        disarm=["tail_off"],
        harvest=["stabilizing"],
        unwind=["tail_off"],
        min_hold_hours=0.0,
        cooldown_hours=20.0,
        arm_timeout_hours=48.0,
    )


class LayerSettings(Section):
    """Quorum rules per transition, thickness mapping, holding times and cooldowns (spec sections 4 and 5)."""

    rules: list[QuorumRuleSettings] = Field(
        default_factory=default_rules, description="named M-of-N rules that the layers below refer to"
    )
    layer1: LayerRules = Field(default_factory=_layer1, description="layer 1, near-term overlay (F1 or VIXY)")
    layer2: LayerRules = Field(default_factory=_layer2, description="layer 2, mid-curve roll and covered calls")
    layer3: LayerRules = Field(default_factory=_layer3, description="layer 3, tail (VIX above the tail level)")
    thickness_step: float = Field(
        default=0.25, gt=0, le=1, description="layer 2 thickness moves in steps of this size (fewer small trades)"
    )
    thickness_full_histogram: float = Field(
        default=0.4,
        gt=0,
        description="active layer 2: MACD histogram (z units) that maps to thickness 1 (F1/F2 with a 60-session "
        "z-score: daily histogram std ~0.14, 99th percentile ~0.35 over 2004-2019)",
    )
    max_overwrite: float = Field(
        default=1.0, gt=0, le=1, description="harvesting layer 2: the largest share of longs overwritten with calls"
    )

    @model_validator(mode="after")
    def _references(self) -> LayerSettings:
        names = [r.name for r in self.rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"rule names must be unique; repeated: {', '.join(dupes)}")
        for key in ("layer1", "layer2", "layer3"):
            missing = sorted({r for r in getattr(self, key).referenced() if r not in names})
            if missing:
                raise ValueError(f"{key} refers to undefined rule(s) {missing}; define them in `rules`")
        for key in ("layer1", "layer3"):
            layer = getattr(self, key)
            if layer.thicken or layer.thin:
                raise ValueError(f"{key}: thicken/thin apply to layer 2 only; leave them empty")
        return self

    @cached_property
    def quorum_rules(self) -> dict[str, QuorumRule]:
        """The rules compiled once per settings object (the state machine runs every cycle)."""
        return {r.name: QuorumRule(r.name, tuple(r.signals), r.m) for r in self.rules}

    def rule(self, name: str) -> QuorumRuleSettings:
        for r in self.rules:
            if r.name == name:
                return r
        raise KeyError(name)


def check_signal_names(layers: LayerSettings, signals: SignalSettings) -> None:
    """Every `external:<name>` a rule mentions must be configured in `signals.externals` (a config error if not)."""
    known = set(signals.signal_names())
    for rule in layers.rules:
        unknown = [s for s in rule.signals if s.lstrip("!") not in known]
        if unknown:
            raise ValueError(
                f"layers rule {rule.name!r} refers to signal(s) {unknown} that signals does not produce; "
                f"configure them under [signals] externals or remove them"
            )
