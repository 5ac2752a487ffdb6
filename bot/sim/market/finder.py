"""Answering contract queries (reqContractDetails / qualifyContracts) against the lazily built catalog.

A query may name a conId, a local symbol, or symbol/secType/tradingClass with optional expiry (YYYYMMDD, or YYYYMM
for every expiry in that month), right and strike. Options are enumerated only as far as the query requires.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from bot.sim.market import catalog, hours
from bot.sim.market.api import ContractQuery
from bot.sim.market.catalog import FutKey, Key, OptKey

if TYPE_CHECKING:
    from bot.sim.market.model import SimMarket

INDEX_SYMBOLS = ("SPX", "VIX", "VIX3M", "VIX9D")
_RIGHTS = {"C": "C", "CALL": "C", "P": "P", "PUT": "P"}


def _listed(market: SimMarket, key: Key, t: dt.datetime) -> bool:
    if isinstance(key, str):
        return True
    if isinstance(key, FutKey):
        n = market.settings.vx_months_listed if key.root == "VX" else market.settings.vxm_months_listed
        return key in catalog.listed_futures(key.root, t, n)
    return key.expiry in catalog.listed_expiries(key.trading_class, t) and market.exists(key)


def _expired(key: Key, t: dt.datetime) -> bool:
    return not isinstance(key, str) and t >= catalog.trading_stop(key)


def _accept(market: SimMarket, key: Key | None, q: ContractQuery, t: dt.datetime) -> list[Key]:
    if key is None or not market.exists(key):
        return []
    if _listed(market, key, t) or (q.include_expired and _expired(key, t)):
        return [key]
    return []


def _date_matches(q_date: str, expiry: dt.date, contract_month: str) -> bool:
    if not q_date:
        return True
    if len(q_date) == 6:
        return contract_month == q_date
    return f"{expiry:%Y%m%d}" == q_date[:8]


def _fut_roots(sym: str, tc: str) -> list[str]:
    roots = []
    if sym == "VIX" and tc in ("", "VX"):
        roots.append("VX")
    if (sym == "VXM" and tc in ("", "VXM")) or (sym == "VIX" and tc == "VXM"):
        roots.append("VXM")
    return roots


def _opt_classes(sym: str, tc: str) -> list[str]:
    if sym == "SPX":
        return [c for c in ("SPX", "SPXW") if tc in ("", c)]
    if sym == "VIX" and tc in ("", "VIX"):
        return ["VIX"]
    return []


def find_keys(market: SimMarket, q: ContractQuery, t: dt.datetime) -> list[Key]:
    day = t.astimezone(hours.ET).date()
    if q.con_id:
        return _accept(market, catalog.key_of(q.con_id), q, t)
    if q.local_symbol:
        key = catalog.parse_local_symbol(q.local_symbol, day)
        if key is not None and q.sec_type:
            inst = catalog.instrument(key) if market.exists(key) else None
            if inst is None or inst.sec_type != q.sec_type.upper():
                return []
        return _accept(market, key, q, t)
    sec, sym, tc = q.sec_type.upper(), q.symbol.upper(), q.trading_class.upper()
    keys: list[Key] = []
    if sec in ("", "IND") and sym in INDEX_SYMBOLS and tc in ("", sym) and not q.last_trade_date:
        keys.append(sym)
    if sec in ("", "STK") and sym == "VIXY" and tc in ("", "VIXY") and not q.last_trade_date:
        keys.append("VIXY")
    if sec in ("", "FUT"):
        for root in _fut_roots(sym, tc):
            n = market.settings.vx_months_listed if root == "VX" else market.settings.vxm_months_listed
            cands = catalog.listed_futures(root, t, n)
            if q.include_expired:
                y, m = day.year - 3, day.month
                back = [FutKey(root, y + (m - 1 + i) // 12, (m - 1 + i) % 12 + 1) for i in range(40)]
                cands = [k for k in back if _expired(k, t)] + cands
            keys.extend(k for k in cands if _date_matches(q.last_trade_date, k.expiry, f"{k.year}{k.month:02d}"))
    if sec in ("", "OPT"):
        right = _RIGHTS.get(q.right.upper(), "") if q.right else ""
        if q.right and not right:
            return []
        for cls in _opt_classes(sym, tc):
            keys.extend(_option_keys(market, q, t, cls, right))
    return keys


def _option_keys(market: SimMarket, q: ContractQuery, t: dt.datetime, cls: str, right: str) -> list[OptKey]:
    expiries = list(catalog.listed_expiries(cls, t))
    if q.include_expired and len(q.last_trade_date) >= 8:
        try:
            asked = dt.datetime.strptime(q.last_trade_date[:8], "%Y%m%d").date()
        except ValueError:
            return []
        probe = OptKey(cls, asked, "C", 10.0)
        if asked not in expiries and market.expiry_valid(probe) and _expired(probe, t):
            expiries.append(asked)
    expiries = [e for e in expiries if _date_matches(q.last_trade_date, e, f"{e:%Y%m}")]
    rights = [right] if right else ["C", "P"]
    out = []
    for e in expiries:
        if q.strike:
            if market.strike_listed(cls, q.strike):
                out.extend(OptKey(cls, e, r, float(q.strike)) for r in rights)
        else:
            out.extend(OptKey(cls, e, r, k) for k in market.strikes(cls) for r in rights)
    return out
