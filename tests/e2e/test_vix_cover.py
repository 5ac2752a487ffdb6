"""The covered-call check the spike test relies on: it must catch a naked call, and accept only real cover."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bot.sim.market.catalog import FutKey, OptKey, con_id_of

from .vix_cover import net_by_fills, replay, uncovered, vix_contract

MAR, APR = dt.date(2025, 3, 18), dt.date(2025, 4, 16)  # VX expiries (March moved a day by Good Friday)
VX_MAR, VXM_MAR, VXM_APR = FutKey("VX", 2025, 3), FutKey("VXM", 2025, 3), FutKey("VXM", 2025, 4)
VXM_FEB = FutKey("VXM", 2025, 2)  # settles 2025-02-19 at the 09:30 ET opening print
C26_MAR, C26_APR = OptKey("VIX", MAR, "C", 26.0), OptKey("VIX", APR, "C", 26.0)
C30_FEB = OptKey("VIX", dt.date(2025, 2, 19), "C", 30.0)


def held(*items: tuple[FutKey | OptKey, float]):
    out = {}
    for key, q in items:
        c = vix_contract(con_id_of(key))
        assert c is not None
        out[c] = out.get(c, 0.0) + q
    return out


def fill(seq: int, key: FutKey | OptKey | str, side: str, shares: float, when: str, ref: str = "alvh-L2e1-x") -> dict:
    return {"seq": seq, "event": "fill", "conId": con_id_of(key), "side": side, "shares": shares,
            "sim_time": f"{when}+00:00", "orderRef": ref}  # fmt: skip


def test_contracts_are_read_from_the_exchanges_con_ids() -> None:
    assert vix_contract(con_id_of(VX_MAR)).kind == "VX" and vix_contract(con_id_of(VX_MAR)).expiry == MAR
    call = vix_contract(con_id_of(C26_APR))
    assert (call.kind, call.expiry, call.strike) == ("C", APR, 26.0)
    assert vix_contract(con_id_of("VIXY")) is None and vix_contract(con_id_of("VIX")) is None
    assert vix_contract(con_id_of(OptKey("SPX", dt.date(2025, 3, 21), "C", 6000.0))) is None


def test_cover_ratios_follow_the_multipliers() -> None:
    assert uncovered(held((VX_MAR, 1), (C26_MAR, -10))) == {}
    assert uncovered(held((VX_MAR, 1), (C26_MAR, -11))) == {MAR: 1.0}
    assert uncovered(held((VXM_MAR, 2), (C26_MAR, -2))) == {}
    assert uncovered(held((VXM_MAR, 2), (C26_MAR, -3))) == {MAR: 1.0}
    assert uncovered(held((OptKey("VIX", MAR, "C", 30.0), 1), (C26_MAR, -1))) == {}
    assert uncovered(held((OptKey("VIX", MAR, "P", 20.0), 5), (C26_MAR, -1))) == {MAR: 1.0}  # a put covers nothing
    assert uncovered(held((VXM_MAR, -3), (C26_MAR, -1))) == {MAR: 1.0}  # a short future covers nothing


def test_a_later_long_covers_an_earlier_call_but_not_the_reverse() -> None:
    assert uncovered(held((VXM_APR, 1), (C26_MAR, -1))) == {}
    assert uncovered(held((VXM_MAR, 1), (C26_APR, -1))) == {APR: 1.0}
    # one April long cannot serve both an April and a March call; the March long covers only the March call
    assert uncovered(held((VXM_APR, 1), (C26_APR, -1), (C26_MAR, -1))) == {MAR: 1.0}
    assert uncovered(held((VXM_APR, 1), (VXM_MAR, 1), (C26_APR, -1), (C26_MAR, -1))) == {}


def test_replay_sees_a_naked_sale_and_drops_settled_cover() -> None:
    log: list[dict[str, Any]] = [
        {"seq": 1, "event": "place", "conId": con_id_of(C26_MAR)},
        fill(2, C26_MAR, "SLD", 1, "2025-02-04T16:00:00"),  # nothing held yet: naked
        fill(3, VXM_MAR, "BOT", 1, "2025-02-04T16:05:00", "alvh-L1e1-x"),
        fill(4, VXM_FEB, "BOT", 1, "2025-02-18T16:00:00", "alvh-L1e1-x"),
        fill(5, C30_FEB, "SLD", 1, "2025-02-18T16:10:00"),  # covered by the February mini
        fill(6, C26_MAR, "SLD", 1, "2025-02-20T16:00:00"),  # the February mini settled: only one March cover left
        fill(7, C26_MAR, "BOT", 2, "2025-02-21T16:00:00", "alvh-L2e1-close"),
    ]
    steps = [(row["seq"], uncovered(pos)) for row, pos in replay(log)]
    assert steps == [(2, {MAR: 1.0}), (3, {}), (4, {}), (5, {}), (6, {MAR: 1.0}), (7, {})]
    assert {(c.kind, c.expiry): q for c, q in net_by_fills(log, "alvh-L2").items()} == {
        ("C", MAR): 0.0,
        ("C", dt.date(2025, 2, 19)): -1.0,
    }
