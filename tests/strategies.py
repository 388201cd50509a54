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


# -- flat rows for the batch path (tests/test_batch_agrees.py) -------------------------------------------


def _hash(name: str) -> str:
    import hashlib

    return hashlib.sha256(name.encode("utf-8")).hexdigest()


ROW_HASHES = tuple(_hash(f"person-{i}") for i in range(4))
"""Keyed-hash-shaped values for the ``*_hash`` columns; the first two are the ones a test blacklist lists."""
LISTED_HASHES = ROW_HASHES[:2]
RULESET_CHANGES = tuple(datetime(*ymd).date() for ymd in ((2018, 10, 19), (2020, 8, 18), (2024, 9, 5)))
"""The days a ruleset comes into force (Asia/Shanghai); before the first none is."""

MONEY_EDGES = sorted(
    {
        max(Decimal("0.00"), base + step)
        for base in (Decimal(v) for v in ("0.00", "49999.99", "50000.00", "299999.99", "300000.00", "500000.00"))
        for step in (Decimal("-0.01"), Decimal("0.00"), Decimal("0.01"))
    }
)
"""Every threshold (¥50,000 and ¥300,000 payout restrictions, the ¥500,000 cap) and a fen either side."""
ROW_MONEY = st.one_of(
    st.sampled_from(MONEY_EDGES),
    st.sampled_from([Decimal("9999999999999.99"), Decimal("10000000000000.00")]),  # around 10**13 (batch checks)
    st.integers(min_value=0, max_value=200_000_000).map(lambda fen: Decimal(fen).scaleb(-2)),
)


def _zones() -> tuple[Any, ...]:
    from datetime import UTC, timezone
    from zoneinfo import ZoneInfo

    return (
        None,  # naive: Asia/Shanghai
        ZoneInfo("Asia/Shanghai"),
        UTC,
        timezone(timedelta(hours=8)),
        timezone(timedelta(hours=-5)),
        timezone(timedelta(hours=5, minutes=30)),
    )


ZONES = _zones()
"""Naive (Asia/Shanghai) and the zones or offsets a time may come with."""
_SHANGHAI = ZONES[1]
_NEAR_MIDNIGHT = (
    timedelta(microseconds=-1),
    timedelta(minutes=-1),
    timedelta(0),
    timedelta(microseconds=1),
    timedelta(hours=7, minutes=59, seconds=59),  # Shanghai's day has begun, UTC's has not
    timedelta(hours=8),  # UTC midnight
)
local_instants = st.one_of(
    st.builds(
        lambda day, step: datetime.combine(day, datetime.min.time()) + step,
        st.sampled_from(RULESET_CHANGES),
        st.sampled_from(_NEAR_MIDNIGHT),
    ),
    st.sampled_from(KEY_DATES),
    st.datetimes(min_value=datetime(2017, 7, 1), max_value=datetime(2026, 12, 31)),
)
"""Asia/Shanghai wall-clock times: around midnight on each ruleset change, before any ruleset, and at random."""


def in_zone(local: datetime, zone: Any) -> datetime:
    """The Asia/Shanghai wall-clock time ``local`` as the same instant in ``zone`` (``None``: naive, as given)."""
    return local if zone is None else local.replace(tzinfo=_SHANGHAI).astimezone(zone)


def _rare(draw: Any) -> bool:
    """True about one time in ten (shrinks to False)."""
    return bool(draw(st.integers(0, 9)) == 9)


@st.composite
def flat_rows(draw: Any, *, clean: bool = False) -> dict[str, Any]:
    """A campaign as one flat row of Python values by :data:`compliance.FLAT_COLUMNS` (``None``: not given).

    Every optional value is sometimes missing; times are naive (Asia/Shanghai) or carry an offset, around
    the ruleset changes and before the first; money sits at and around each threshold. About one row in
    ten has a required value missing (a payout without its payee, a campaign without a target), which
    :func:`compliance.evaluate` refuses with a CampaignError.

    With ``clean``, the people, materials and activity look like a campaign review would pass, so
    ``approve`` and ``approve_with_conditions`` are reached too; amounts, payout and times stay random.
    """
    from compliance._flat import FLAT_COLUMNS

    maybe = lambda strategy: st.one_of(st.none(), strategy)  # noqa: E731
    row: dict[str, Any] = dict.fromkeys(FLAT_COLUMNS)
    created = draw(local_instants)
    complete = draw(st.booleans())
    row.update(
        {
            "campaign_id": draw(st.text("abc0123-", min_size=1, max_size=6)),
            "platform": draw(st.sampled_from(["水滴筹", "轻松筹", "爱心筹"])),
            "created_at": in_zone(created, draw(st.sampled_from(ZONES))),
            "target_amount": None if _rare(draw) else draw(ROW_MONEY),
            "raised_amount": draw(maybe(ROW_MONEY)),
            "initiator.real_name_verified": draw(MAYBE_BOOL),
            "initiator.id_number_hash": draw(maybe(st.sampled_from(ROW_HASHES))),
            "initiator.relation_to_patient": draw(
                st.sampled_from(["self", "spouse", "parent", "child", "sibling", "other_relative", "other", None])
            ),
            "initiator.truthfulness_acknowledged": draw(MAYBE_BOOL),
            "initiator.account_created_at": draw(maybe(st.builds(in_zone, local_instants, st.sampled_from(ZONES)))),
            "initiator.prior_campaign_count": draw(maybe(st.integers(0, 12))),
            "initiator.prior_rejection_count": draw(maybe(st.integers(0, 5))),
            "patient.real_name_verified": draw(MAYBE_BOOL),
            "patient.id_number_hash": draw(maybe(st.sampled_from(ROW_HASHES))),
            "medical.diagnosis_category": draw(
                maybe(st.sampled_from(["leukemia", "solid_tumor", "organ_failure", "stroke", "other"]))
            ),
            "medical.diagnosis": draw(maybe(st.sampled_from(["急性白血病", "肺癌", "烧伤"]))),
            "medical.hospital_id": draw(maybe(st.sampled_from(["h1", "h2"]))),
            "medical.estimated_cost": draw(maybe(ROW_MONEY)),
            "medical.document_hashes": draw(
                maybe(st.lists(st.sampled_from(["d1", "d2", "d3"]), max_size=2).map(tuple))
            ),
            "activity.donation_count": draw(maybe(st.integers(0, 5000))),
            "activity.donations_first_24h": draw(maybe(st.integers(0, 5000))),
            "activity.amount_first_24h": draw(maybe(ROW_MONEY)),
            "activity.share_count": draw(maybe(st.one_of(st.integers(0, 100_000), st.sampled_from([2**53, 2**60])))),
            "activity.endorsement_count": draw(maybe(st.integers(0, 50))),
            "activity.endorsements_first_24h": draw(maybe(st.integers(0, 50))),
            "activity.complaint_count": draw(maybe(st.integers(0, 20))),
            "promoter_id": draw(maybe(st.sampled_from(["p1", "p2"]))),
            "other_platform_campaign_ids": draw(maybe(st.lists(st.sampled_from(["x1", "x2"]), max_size=2).map(tuple))),
        }
    )
    for item in DISCLOSURE_ITEMS:
        row[f"disclosure.{item}"] = draw(st.booleans() if complete else MAYBE_BOOL)
    for name in ("medical_proof", "medical_plan", "cost_list", "plan_published", "edit_traces_detected"):
        row[f"documents.{name}"] = draw(MAYBE_BOOL)
    if draw(st.booleans()):
        requested = draw(
            st.one_of(
                st.sampled_from([timedelta(0), timedelta(hours=48), timedelta(hours=48, microseconds=1)]).map(
                    lambda step: created + step
                ),
                st.timedeltas(timedelta(0), timedelta(days=400)).map(lambda step: created + step),
                local_instants,
            )
        )
        raised = row["raised_amount"] or Decimal("0.00")
        row.update(
            {
                "payout.amount": None
                if _rare(draw)
                else draw(
                    st.one_of(ROW_MONEY, st.just(raised), st.just((raised * Decimal("0.95")).quantize(Decimal("0.01"))))
                ),
                "payout.payee": None
                if _rare(draw)
                else draw(st.sampled_from(["patient", "close_relative", "hospital_account", "other"])),
                "payout.batched": draw(MAYBE_BOOL),  # not given: false
                "payout.requested_at": None if _rare(draw) else in_zone(requested, draw(st.sampled_from(ZONES))),
                "payout.payee_id_number_hash": draw(maybe(st.sampled_from(ROW_HASHES))),
            }
        )
    if clean:
        _clean(draw, row, created)
    return row


def _clean(draw: Any, row: dict[str, Any], created: datetime) -> None:
    target = row["target_amount"] or Decimal("100000.00")
    donations = draw(st.integers(200, 3000))
    row.update(
        {
            "target_amount": target,
            "initiator.real_name_verified": True,
            "initiator.truthfulness_acknowledged": True,
            "initiator.id_number_hash": ROW_HASHES[2],
            "initiator.account_created_at": in_zone(created - timedelta(days=900), draw(st.sampled_from(ZONES))),
            "initiator.prior_campaign_count": 0,
            "initiator.prior_rejection_count": 0,
            "patient.real_name_verified": True,
            "patient.id_number_hash": ROW_HASHES[3],
            "documents.medical_proof": True,
            "documents.edit_traces_detected": False,
            "medical.diagnosis_category": "leukemia",
            "medical.estimated_cost": target,
            "medical.document_hashes": (),
            "activity.donation_count": donations,
            "activity.donations_first_24h": donations // 10,
            "activity.share_count": donations,
            "activity.endorsement_count": 30,
            "activity.endorsements_first_24h": 10,
            "activity.complaint_count": 0,
            "promoter_id": None,
            "other_platform_campaign_ids": (),
            "disclosure.other_platform_fundraising": False,
        }
    )
    for item in DISCLOSURE_ITEMS:
        if row[f"disclosure.{item}"] is None:
            row[f"disclosure.{item}"] = draw(st.booleans())
    if row["payout.payee_id_number_hash"] is not None:
        row["payout.payee_id_number_hash"] = ROW_HASHES[3]
