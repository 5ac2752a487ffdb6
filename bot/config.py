"""Application configuration: one TOML file validated by pydantic, with errors that name key, value and fix."""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator

from bot.settings.approval import ApprovalSettings
from bot.settings.backtest import BacktestSettings
from bot.settings.base import Section
from bot.settings.book import BookSettings
from bot.settings.broker import BrokerSettings
from bot.settings.execution import ExecutionSettings
from bot.settings.general import BotSettings, LoggingSettings
from bot.settings.layers import LayerSettings, check_signal_names
from bot.settings.risk import RiskSettings
from bot.settings.signals import SignalSettings
from bot.settings.sim import SimSettings
from bot.settings.sizing import SizingSettings


class AppConfig(Section):
    bot: BotSettings = Field(default_factory=BotSettings, description="the process: mode, accounts, journal")
    logging: LoggingSettings = Field(default_factory=LoggingSettings, description="log format and level")
    broker: BrokerSettings = Field(default_factory=BrokerSettings, description="gateway or simulator")
    book: BookSettings = Field(default_factory=BookSettings, description="reading the condor book")
    signals: SignalSettings = Field(default_factory=SignalSettings, description="signal rules")
    layers: LayerSettings = Field(default_factory=LayerSettings, description="layer state machine and quorum")
    sizing: SizingSettings = Field(default_factory=SizingSettings, description="hedge sizing")
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings, description="order execution")
    risk: RiskSettings = Field(default_factory=RiskSettings, description="pre-trade checks and halts")
    approval: ApprovalSettings = Field(default_factory=ApprovalSettings, description="manual approval")
    sim: SimSettings = Field(default_factory=SimSettings, description="built-in gateway simulator")
    backtest: BacktestSettings = Field(default_factory=BacktestSettings, description="historical backtest")

    @model_validator(mode="after")
    def _layer_rules_name_configured_signals(self) -> AppConfig:
        """A quorum rule naming an `external:<name>` that [signals] does not configure would never vote."""
        check_signal_names(self.layers, self.signals)
        return self


class ConfigError(Exception):
    """A configuration problem explained for a person: which file, which key, what value, how to fix it."""


def load_config(path: str | Path) -> AppConfig:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file. Fix: pass an existing TOML file, e.g. config/default.toml") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror}). Fix: check the path and permissions") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason}). Fix: save the file as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}. Fix: correct the syntax at that line") from None
    return config_from_mapping(data, source=str(path))


def config_from_mapping(data: dict[str, Any], source: str = "<config>") -> AppConfig:
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, data, source)) from None


def format_validation_error(exc: ValidationError, data: dict[str, Any], source: str) -> str:
    lines = [f"{source}: {exc.error_count()} problem(s) in the configuration"]
    for err in exc.errors():
        loc = [str(part) for part in err["loc"]]
        key = ".".join(loc) or "(top level)"
        value = _lookup(data, err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            suggestion = _suggest_key(loc)
            fix = f"did you mean `{suggestion}`?" if suggestion else "remove it; see config/default.toml for keys"
            lines.append(f"  - `{key}`: unknown setting. Fix: {fix}")
        elif kind == "missing":
            lines.append(f"  - `{key}`: required setting is missing. Fix: add it (see config/default.toml)")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            shown = "" if value is _MISSING else f" (got {value!r})"
            lines.append(f"  - `{key}`{shown}: {msg}. Fix: {_fix_hint(err)}")
    return "\n".join(lines)


_MISSING = object()


def _lookup(data: Any, loc: tuple[Any, ...]) -> Any:
    node = data
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return node


def _fix_hint(err: Any) -> str:
    ctx = err.get("ctx") or {}
    if "expected" in ctx:
        return f"use one of {ctx['expected']}"
    for bound, word in (("gt", "greater than"), ("ge", "at least"), ("lt", "less than"), ("le", "at most")):
        if bound in ctx:
            return f"use a value {word} {ctx[bound]}"
    if err["type"].endswith("_parsing") or err["type"].endswith("_type"):
        return f"write a value of the right type ({err['type'].split('_')[0]})"
    return "see the description of this key in config/default.toml"


def _suggest_key(loc: list[str]) -> str | None:
    model: type[Section] = AppConfig
    for part in loc[:-1]:
        field = model.model_fields.get(part)
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, Section)):
            return None
        model = annotation
    close = difflib.get_close_matches(loc[-1], list(model.model_fields), n=1, cutoff=0.6)
    return ".".join([*loc[:-1], close[0]]) if close else None


def iter_settings(model: Section, prefix: str = "") -> Iterator[tuple[str, Any, str]]:
    """Flatten a config into (dotted key, value, description) rows, sections first-to-last."""
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        key = f"{prefix}{name}"
        if isinstance(value, Section):
            yield from iter_settings(value, key + ".")
        else:
            yield key, value, field.description or ""


def render_table(config: AppConfig, defaults: AppConfig | None = None) -> str:
    """The effective settings as an aligned text table; `*` marks values that differ from the defaults."""
    defaults = defaults or AppConfig()
    default_values = {key: value for key, value, _ in iter_settings(defaults)}
    rows = [
        (key, _show(value), "*" if default_values.get(key) != value else "") for key, value, _ in iter_settings(config)
    ]
    width = max(len(key) for key, _, _ in rows)
    out = [f"{'setting'.ljust(width)}  value   (* = set by the file)", "-" * (width + 30)]
    out += [f"{key.ljust(width)}  {shown} {mark}".rstrip() for key, shown, mark in rows]
    return "\n".join(out)


def _show(value: Any) -> str:
    return "(unset)" if value is None else str(value)
