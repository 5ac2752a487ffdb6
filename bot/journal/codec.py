"""Intent <-> JSON and the content fingerprint an approval binds to.

The fingerprint covers everything that decides the trade and what the person reads as its reason: id, layer,
instrument, side, quantity, reference and limit price, reason, group and opens_position. Votes are shown but not
fingerprinted: they justify the trade, they do not change it, and their values move every tick.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from bot.domain.intents import HedgeInstrument, HedgeKind, Intent, PriceGuidance, Side
from bot.domain.layers import LayerId
from bot.domain.votes import SignalVote, Vote

SHORT_FINGERPRINT = 12  # hex characters shown to people and accepted by `alvh approve --fingerprint`


def intent_to_dict(intent: Intent) -> dict[str, Any]:
    inst = intent.instrument
    return {
        "id": intent.id,
        "layer": int(intent.layer),
        "instrument": {
            "kind": inst.kind.value,
            "expiry": inst.expiry.isoformat() if inst.expiry else None,
            "strike": inst.strike,
            "right": inst.right,
            "key": inst.key,
        },
        "side": intent.side.value,
        "quantity": intent.quantity,
        "price": None if intent.price is None else {"reference": intent.price.reference, "limit": intent.price.limit},
        "reason": intent.reason,
        "votes": [v.to_dict() for v in intent.votes],
        "group": intent.group,
        "opens_position": intent.opens_position,
    }


def intent_from_dict(data: dict[str, Any]) -> Intent:
    inst = data["instrument"]
    price = data.get("price")
    return Intent(
        id=data["id"],
        layer=LayerId(int(data["layer"])),
        instrument=HedgeInstrument(
            kind=HedgeKind(inst["kind"]),
            expiry=dt.date.fromisoformat(inst["expiry"]) if inst.get("expiry") else None,
            strike=inst.get("strike"),
            right=inst.get("right"),
        ),
        side=Side(data["side"]),
        quantity=int(data["quantity"]),
        price=None if price is None else PriceGuidance(reference=price["reference"], limit=price["limit"]),
        reason=data["reason"],
        votes=tuple(
            SignalVote(v["name"], Vote(v["vote"]), v.get("value"), v.get("threshold"), v.get("detail", ""))
            for v in data.get("votes", [])
        ),
        group=data.get("group"),
        opens_position=bool(data.get("opens_position", True)),
    )


def fingerprint(intent: Intent) -> str:
    """sha256 over the canonical JSON of the trade-defining content (see module docstring)."""
    content = intent_to_dict(intent)
    content.pop("votes")
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def short(fp: str) -> str:
    return fp[:SHORT_FINGERPRINT]
