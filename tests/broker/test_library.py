import pytest

from bot.broker.library import LibraryUnavailableError, load_library


def test_auto_prefers_ib_async() -> None:
    assert load_library("auto").name == "ib_async"


@pytest.mark.parametrize("name", ["ib_async", "ib_insync"])
def test_explicit_choice_is_honoured(name: str) -> None:
    lib = load_library(name)
    assert lib.name == name
    assert lib.IB.__module__.startswith(name)
    assert lib.LimitOrder.__module__.startswith(name)


def test_auto_falls_back_when_ib_async_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    real = importlib.import_module

    def fake_import(name: str, *args, **kwargs):
        if name == "ib_async":
            raise ImportError("No module named 'ib_async'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", fake_import)
    assert load_library("auto").name == "ib_insync"
    with pytest.raises(LibraryUnavailableError, match=r"pip install ib_async"):
        load_library("ib_async")


def test_unknown_choice_names_the_fix() -> None:
    with pytest.raises(LibraryUnavailableError, match="auto"):
        load_library("ib_fancy")  # type: ignore[arg-type]
