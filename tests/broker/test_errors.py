"""Error codes are handled by meaning, the same whichever library delivered them."""

import pytest

from bot.broker.errors import ErrorKind, classify_error


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (1100, ErrorKind.CONNECTIVITY_LOST),
        (1101, ErrorKind.RESTORED_DATA_LOST),
        (1102, ErrorKind.RESTORED),
        (2104, ErrorKind.NOTICE),
        (2106, ErrorKind.NOTICE),
        (2158, ErrorKind.NOTICE),
        (2103, ErrorKind.FARM_DOWN),
        (201, ErrorKind.ORDER_REJECTED),
        (202, ErrorKind.ORDER_CANCELLED),  # ib_insync calls it a warning, ib_async an error: here, a cancel
        (326, ErrorKind.CLIENT_ID_IN_USE),
        (10197, ErrorKind.COMPETING_SESSION),
        (420, ErrorKind.PACING),
        (100, ErrorKind.PACING),
        (200, ErrorKind.NO_SECURITY),
        (354, ErrorKind.MARKET_DATA),
        (504, ErrorKind.NOT_CONNECTED),
        (110, ErrorKind.ORDER_WARNING),
        (9999, ErrorKind.REQUEST_FAILED),
    ],
)
def test_codes_map_to_their_meaning(code: int, kind: ErrorKind) -> None:
    assert classify_error(code, "text").kind is kind


def test_162_is_pacing_only_when_the_text_says_so() -> None:
    assert classify_error(162, "HMDS query returned no data").kind is ErrorKind.REQUEST_FAILED
    assert classify_error(162, "Historical data request pacing violation").kind is ErrorKind.PACING
    assert classify_error(322, "Only 50 simultaneous API historical data requests allowed").kind is ErrorKind.PACING


def test_only_rejections_and_cancels_end_an_order() -> None:
    assert classify_error(201).is_order_terminal
    assert classify_error(202).is_order_terminal
    assert not classify_error(399).is_order_terminal
    assert not classify_error(1100).is_order_terminal
