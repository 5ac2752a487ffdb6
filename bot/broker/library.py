"""Which IB client library the facade drives: ib_async (maintained successor) by default, ib_insync as a fallback.

Both expose the same classes under the same names; this module is the one place that imports either, so the rest of
`bot/broker/` refers to `lib.IB`, `lib.Future`, ... and never to a module name.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

LibraryChoice = Literal["auto", "ib_async", "ib_insync"]
_ORDER: tuple[str, ...] = ("ib_async", "ib_insync")


class LibraryUnavailableError(RuntimeError):
    """The configured IB client library cannot be imported."""


@dataclass(frozen=True)
class IbLibrary:
    """The classes the facade needs from one library, plus which library they came from."""

    name: str
    module: ModuleType

    def __getattr__(self, item: str) -> Any:
        # Only reached for names that are not dataclass fields: IB, Contract, Future, Index, Stock, Option,
        # LimitOrder, ExecutionFilter, RequestError, util.
        return getattr(self.module, item)

    @property
    def version(self) -> str:
        return str(getattr(self.module, "__version__", "?"))


def load_library(choice: LibraryChoice = "auto") -> IbLibrary:
    """Import the chosen library; `auto` takes ib_async and falls back to ib_insync."""
    if choice not in ("auto", *_ORDER):
        raise LibraryUnavailableError(
            f"broker.library = {choice!r} is not known. Fix: use 'auto', 'ib_async' or 'ib_insync'"
        )
    candidates = _ORDER if choice == "auto" else (choice,)
    failures: list[str] = []
    for name in candidates:
        try:
            return IbLibrary(name=name, module=importlib.import_module(name))
        except ImportError as exc:
            failures.append(f"{name}: {exc}")
    wanted = " or ".join(candidates)
    raise LibraryUnavailableError(
        f"IB client library {wanted} is not installed ({'; '.join(failures)}). "
        f"Fix: `pip install ib_async==2.1.0` (or `pip install ib_insync==0.9.86`), "
        f"or set broker.library to the one that is installed"
    )
