"""Hypothesis strategies for campaigns: realistic, with nulls, threshold boundaries and odd values."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from compliance.campaign import DISCLOSURE_ITEMS

BOUNDARIES = [
    Decimal(v)
    for v in (
        "0.00",
        "49999.99",
        "50000.00",
        "50000.01",
        "299999.99",
        "300000.00",
        "300000.01",
        "500000.00",
        "500000.01",
    )
]
LISTED_IDS = ["110101198001010000", "440101197505050000"]
OTHER_IDS = ["110101198506150000", "310101199912310000"]

MONEY = st.one_of(
    st.sampled_from(BOUNDARIES),
    st.integers(min_value=0, max_value=200_000_000).map(lambda fen: Decimal(fen).scaleb(-2)),
)
MAYBE_BOOL = st.sampled_from([True, False, None])
KEY_DATES = [
    datetime(2019, 3, 1, 12),
    datetime(2020, 8, 17, 23, 59),
    datetime(2020, 8, 18),
    datetime(2022, 5, 1, 8),
    datetime(2024, 9, 4, 23, 59),
    datetime(2024, 9, 5),
    datetime(2025, 6, 1, 9, 30),
]
# Hypothesis draws datetimes near their minimum; key dates spread examples over every ruleset's era.
instants = st.one_of(
    st.sampled_from(KEY_DATES), st.datetimes(min_value=datetime(2018, 10, 19), max_value=datetime(2026, 12, 31))
)
ID_NUMBERS = st.one_of(st.none(), st.sampled_from(LISTED_IDS + OTHER_IDS))


LADDER = sorted(
    {*BOUNDARIES, *(Decimal(v) for v in ("10000.00", "99999.99", "100000.00", "999999.99", "1000000.00", "5000000.00"))}
)
"""Raised amounts straddling every threshold, for laws about how outcomes change with the amount."""


@st.composite
def campaigns(draw: Any, *, payout: bool | None = None, clean: bool = False) -> dict[str, Any]:
    """A campaign as a platform would send it (a plain nested dict).

    With ``clean``, everything but the disclosure answers, amounts and payout route is compliant, so a
    law about those can see an outcome get stricter (a random campaign is usually rejected already).
    """
    created = draw(instants)
    complete = draw(st.booleans())
    maybe_bool = st.just(True) if clean else MAYBE_BOOL
    id_numbers = st.sampled_from(OTHER_IDS) if clean else ID_NUMBERS
    money = st.sampled_from(BOUNDARIES[:-1]) if clean else MONEY
    data: dict[str, Any] = {
        "campaign_id": draw(st.text("abcdef0123456789-", min_size=1, max_size=12)),
        "platform": draw(st.sampled_from(["水滴筹", "轻松筹", "爱心筹", "360大病筹"])),
        "created_at": created.isoformat(sep=" "),
        "target_amount": str(draw(money)),
        "raised_amount": str(draw(money)),
        "initiator": {
            "real_name_verified": draw(maybe_bool),
            "relation_to_patient": draw(
                st.sampled_from(["self", "spouse", "parent", "child", "sibling", "other_relative", "other", None])
            ),
            "truthfulness_acknowledged": draw(maybe_bool),
            "id_number": draw(id_numbers),
        },
        "patient": {"real_name_verified": draw(maybe_bool), "id_number": draw(id_numbers)},
        # Complete disclosure half the time, so rules that depend on it are exercised both ways.
        "disclosure": {
            # a clean campaign answers house and car: unanswered, they reject it already
            item: draw(st.booleans() if complete or (clean and item in ("house", "car")) else MAYBE_BOOL)
            for item in DISCLOSURE_ITEMS
        },
        "documents": {
            name: draw(maybe_bool) for name in ("medical_proof", "medical_plan", "cost_list", "plan_published")
        },
    }
    if payout if payout is not None else draw(st.booleans()):
        data["payout"] = {
            "amount": str(draw(money)),
            "payee": draw(st.sampled_from(["patient", "close_relative", "hospital_account", "other"])),
            "batched": draw(st.booleans()),
            "requested_at": (created + draw(st.timedeltas(timedelta(0), timedelta(days=120)))).isoformat(sep=" "),
            "payee_id_number": draw(id_numbers),
        }
    return data
