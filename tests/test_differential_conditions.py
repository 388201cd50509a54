"""Generated conditions: rule-engine, ``evaluate()`` and ``evaluate_frame`` give every rule the same status.

Hypothesis writes random well-typed conditions over the Campaign schema, as a platform could in its own rule
file: comparisons of fields with constants and with each other, ``??``, ``and``/``or``/``not``, ``in``,
ternaries, arithmetic on money, time differences, comprehensions over lists, value attributes (``.year``,
``.length``, ``.is_nan``, ``.to_str``), non-finite and long literals, mappings, and times around Asia/
Shanghai's daylight-saving changes. Each is checked on random campaigns with nulls and boundaries (amounts at
thresholds, counts past int64 at a finer scale, repeated local hours) by the three evaluators, which must
agree for every rule and every campaign: this replaces hope about conditions nobody has written yet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compliance import Campaign, CampaignError
from compliance.campaign import DISCLOSURE_ITEMS
from tests.builders import fuzz_settings
from tests.strategies import BOUNDARIES, MAYBE_BOOL, local_instants
from tests.three_paths import disagreements, ruleset_of

# -- conditions, by the type of value they give --------------------------------------------------------

NUMBER_FIELDS = ["raised_amount", "target_amount"]
NULLABLE_NUMBERS = [
    "medical.estimated_cost",
    "activity.donation_count",
    "activity.share_count",
    "activity.amount_first_24h",
    "initiator.prior_campaign_count",
    "payout&.amount",
    "risk&.score",
]
NUMBER_CONSTANTS = [
    "0",
    "1",
    "0.5",
    "50000",
    "49999.99",
    "300000.005",
    "-1",
    "params.cap",
    "params.cut",
    "inf",
    "-inf",
    "nan",
    "99.9999999999999999999999999999999",
    "100.000000000000000000000000000001",
    "1e30",
    "-12345678901234567890123456789012",
    "9223372036854775807",
    "100000000000000000",
]
NUMBER_ATTRIBUTES = [
    "created_at.year",
    "created_at.hour",
    "created_at.month",
    "raised_amount.ceiling",
    "target_amount.floor",
    "platform.length",
    "other_platform_campaign_ids.length",
    "params.name.length",
    "platform.to_flt",
    "(medical.diagnosis ?? '').length",
]
TIME_FIELDS = ["created_at", "created_at.date"]
NULLABLE_TIMES = ["payout&.requested_at", "initiator.account_created_at"]
TIME_CONSTANTS = [
    'd"1986-09-14 01:30:00"',  # in the hour Asia/Shanghai repeated (no offset: the zone's own time)
    'd"1986-09-14T01:10:00+08:00"',
    'd"1986-09-14T01:20:00+09:00"',
    'd"1986-05-04 02:30:00"',  # in the hour Asia/Shanghai skipped
    'd"1991-09-15 01:15:00"',
    'd"1900-01-01 00:00:00"',  # local mean time
    'd"2021-03-01 09:00:00"',
    'd"2024-09-05 00:00:00+08:00"',
    'd"2024-09-04T16:00:00Z"',
]
DURATIONS = ['t"PT1H"', 't"P1D"', 't"PT0S"', 't"P30D"', '-t"PT1H"']
TEXT_FIELDS = ["platform", "params.name", "created_at.weekday", "raised_amount.to_str", "created_at.zone_name"]
NULLABLE_TEXTS = ["medical.diagnosis", "payout&.payee", "initiator.relation_to_patient", "medical.diagnosis_category"]
TEXT_CONSTANTS = ['"patient"', '"水滴筹"', '"Monday"', '""', '"50.00"', '"leukemia"', '"CDT"']
BOOLEAN_ATOMS = [
    "raised_amount.is_nan",
    "platform.is_empty",
    "other_platform_campaign_ids.is_empty",
    "(disclosure.house ?? false)",
    "(documents.medical_proof ?? true)",
    "(payout&.batched ?? false)",
    "true",
    "false",
]
NULLABLE_BOOLEANS = [f"disclosure.{item}" for item in DISCLOSURE_ITEMS[:3]] + ["disclosure.house", "blacklist.payee"]
ORDER = ["<", "<=", ">", ">="]
EQUALITY = ["==", "!="]


def _mapping(values: list[str], reverse: bool) -> str:
    items = list(zip(DISCLOSURE_ITEMS, values, strict=True))
    return "{" + ", ".join(f'"{k}": {v}' for k, v in (reversed(items) if reverse else items)) + "}"


@st.composite
def numbers(draw: Any, depth: int) -> str:
    """A number that is never null (ordered comparisons need one)."""
    kind = draw(st.integers(0, 6 if depth > 0 else 2))
    if kind == 0:
        return draw(st.sampled_from(NUMBER_FIELDS))
    if kind == 1:
        return draw(st.sampled_from(NUMBER_CONSTANTS))
    if kind == 2:
        return draw(st.sampled_from(NUMBER_ATTRIBUTES))
    if kind in (3, 4):
        return f"({draw(st.sampled_from(NULLABLE_NUMBERS))} ?? {draw(numbers(depth - 1))})"
    if kind == 5:
        return f"({draw(booleans(depth - 1))} ? {draw(numbers(depth - 1))} : {draw(numbers(depth - 1))})"
    operator = draw(st.sampled_from(["+", "-", "*"]))
    return f"({draw(numbers(depth - 1))} {operator} {draw(numbers(depth - 1))})"


@st.composite
def times(draw: Any, depth: int) -> str:
    kind = draw(st.integers(0, 3 if depth > 0 else 1))
    if kind == 0:
        return draw(st.sampled_from(TIME_FIELDS))
    if kind == 1:
        return draw(st.sampled_from(TIME_CONSTANTS))
    if kind == 2:
        return f"({draw(st.sampled_from(NULLABLE_TIMES))} ?? {draw(times(depth - 1))})"
    return f"({draw(booleans(depth - 1))} ? {draw(times(depth - 1))} : {draw(times(depth - 1))})"


@st.composite
def texts(draw: Any, depth: int) -> str:
    kind = draw(st.integers(0, 2 if depth > 0 else 1))
    if kind == 0:
        return draw(st.sampled_from(TEXT_FIELDS))
    if kind == 1:
        return draw(st.sampled_from(TEXT_CONSTANTS))
    return f"({draw(st.sampled_from(NULLABLE_TEXTS))} ?? {draw(texts(depth - 1))})"


@st.composite
def comparisons(draw: Any, depth: int) -> str:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return f"{draw(numbers(depth))} {draw(st.sampled_from(ORDER + EQUALITY))} {draw(numbers(depth))}"
    if kind == 1:
        constant = draw(st.sampled_from([*NUMBER_CONSTANTS, "null"]))
        return f"{draw(st.sampled_from(NULLABLE_NUMBERS))} {draw(st.sampled_from(EQUALITY))} {constant}"
    if kind == 2:
        return f"{draw(times(depth))} {draw(st.sampled_from(ORDER + EQUALITY))} {draw(times(depth))}"
    if kind == 3:
        difference = f"({draw(times(depth))} - {draw(times(depth))})"
        return f"{difference} {draw(st.sampled_from(ORDER))} {draw(st.sampled_from(DURATIONS))}"
    if kind == 4:
        return f"{draw(texts(depth))} {draw(st.sampled_from(ORDER + EQUALITY))} {draw(texts(depth))}"
    if kind == 5:
        constant = draw(st.sampled_from([*TEXT_CONSTANTS, "null"]))
        return f"{draw(st.sampled_from(NULLABLE_TEXTS))} {draw(st.sampled_from(EQUALITY))} {constant}"
    if kind == 6:
        members = ", ".join(draw(st.lists(st.sampled_from(NUMBER_CONSTANTS), min_size=1, max_size=3)))
        return f"{draw(numbers(depth))} in [{members}]"
    if kind == 7:
        container = draw(st.sampled_from(["params.payees", '["patient", null]', '["x1", "other"]']))
        return f"{draw(st.sampled_from([*NULLABLE_TEXTS, 'platform']))} in {container}"
    if kind == 8:
        constant = draw(st.sampled_from(["true", "false", "null"]))
        return f"{draw(st.sampled_from(NULLABLE_BOOLEANS))} {draw(st.sampled_from(EQUALITY))} {constant}"
    return draw(mappings())


@st.composite
def mappings(draw: Any) -> str:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        values = draw(st.lists(st.sampled_from(["true", "false", "null"]), min_size=8, max_size=8))
        return f"disclosure_answers {draw(st.sampled_from(EQUALITY))} {_mapping(values, draw(st.booleans()))}"
    if kind == 1:
        return f'"{draw(st.sampled_from([*DISCLOSURE_ITEMS, "nope"]))}" in disclosure_answers'
    if kind == 2:
        return "(disclosure.house ?? disclosure_answers[params.nope]) == true"  # the right side raises
    item = draw(st.sampled_from(DISCLOSURE_ITEMS))
    return f'disclosure_answers["{item}"] {draw(st.sampled_from(EQUALITY))} {draw(st.sampled_from(["true", "null"]))}'


@st.composite
def comprehensions(draw: Any, depth: int) -> str:
    kind = draw(st.integers(0, 3))
    builtin = draw(st.sampled_from(["$any", "$all"]))
    if kind == 0:
        member = draw(st.sampled_from([*TEXT_CONSTANTS, '"x1"']))
        return f"{builtin}([x == {member} for x in other_platform_campaign_ids])"
    if kind == 1:
        return f"{builtin}([disclosure_answers[item] != false for item in params.items])"
    if kind == 2:
        return f"{builtin}([{draw(numbers(depth))} > v for v in [0, 1, 50000, inf]])"
    return f'{builtin}([h.length > 1 for h in medical.document_hashes if h != "d1"])'


@st.composite
def booleans(draw: Any, depth: int = 2) -> str:
    kind = draw(st.integers(0, 6 if depth > 0 else 1))
    if kind == 0:
        return draw(st.sampled_from(BOOLEAN_ATOMS))
    if kind == 1:
        return f"({draw(comparisons(0))})"
    if kind == 2:
        return f"({draw(comparisons(depth - 1))})"
    if kind == 3:
        operator = draw(st.sampled_from(["and", "or"]))
        return f"({draw(booleans(depth - 1))} {operator} {draw(booleans(depth - 1))})"
    if kind == 4:
        return f"not {draw(booleans(depth - 1))}"
    if kind == 5:
        return f"({draw(booleans(depth - 1))} ? {draw(booleans(depth - 1))} : {draw(booleans(depth - 1))})"
    return draw(comprehensions(depth - 1))


# -- campaigns with nulls and boundaries --------------------------------------------------------------------

REPEATED_HOURS = [
    "1986-09-14T01:10:00+08:00",  # the second 01:10 (fold 1)
    "1986-09-14T01:30:00+09:00",  # the first 01:30 (fold 0)
    "1986-09-14T01:30:00+08:00",
    "1986-09-14T00:59:59+09:00",
    "1986-05-04T01:59:59+08:00",  # just before the skipped hour
    "1986-05-04T03:00:00+09:00",
    "1991-09-15T01:15:00+08:00",
    "1991-09-15T01:15:00+09:00",
    "1900-01-01T00:00:00+08:00",
    "2024-09-05T00:00:00+08:00",
]
TIMES = st.one_of(st.sampled_from(REPEATED_HOURS), local_instants.map(lambda t: t.isoformat()))
MONEY = st.one_of(
    st.sampled_from([*BOUNDARIES, "50.00", "100.00", "99999999999999.99"]).map(str),
    st.integers(0, 10**9).map(lambda fen: f"{fen // 100}.{fen % 100:02d}"),
)
COUNTS = st.one_of(st.sampled_from([0, 1, 2, 10**17, 2**63 - 1]), st.integers(0, 5000))


def maybe(strategy: Any) -> Any:
    return st.one_of(st.none(), strategy)


@st.composite
def campaigns(draw: Any) -> Campaign:
    data: dict[str, Any] = {
        "campaign_id": "c1",
        "platform": draw(st.sampled_from(["水滴筹", "abc", "12.5", "inf"])),
        "created_at": draw(TIMES),
        "target_amount": draw(MONEY),
        "raised_amount": draw(MONEY),
        "initiator": {
            "account_created_at": draw(maybe(TIMES)),
            "prior_campaign_count": draw(maybe(COUNTS)),
            "relation_to_patient": draw(maybe(st.sampled_from(["self", "parent", "other"]))),
        },
        "disclosure": {item: draw(MAYBE_BOOL) for item in DISCLOSURE_ITEMS},
        "documents": {"medical_proof": draw(MAYBE_BOOL)},
        "medical": {
            "estimated_cost": draw(maybe(MONEY)),
            "diagnosis": draw(maybe(st.sampled_from(["急性白血病", "", "leukemia"]))),
            "diagnosis_category": draw(maybe(st.sampled_from(["leukemia", "other"]))),
            "document_hashes": draw(st.lists(st.sampled_from(["d1", "d22", "d"]), max_size=2)),
        },
        "activity": {
            "donation_count": draw(maybe(COUNTS)),
            "share_count": draw(maybe(COUNTS)),
            "amount_first_24h": draw(maybe(MONEY)),
        },
        "other_platform_campaign_ids": draw(st.lists(st.sampled_from(["x1", "x2", "patient"]), max_size=2)),
    }
    if draw(st.booleans()):
        data["payout"] = {
            "amount": draw(MONEY),
            "payee": draw(st.sampled_from(["patient", "close_relative", "hospital_account", "other"])),
            "batched": draw(st.booleans()),
            "requested_at": draw(TIMES),
        }
    try:
        return Campaign.parse(data)
    except CampaignError:  # a time past the calendar's end in UTC, say: not a campaign
        return Campaign.parse(data | {"created_at": "2021-03-01 09:00"} | {"initiator": {}, "payout": None})


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("differential")


@fuzz_settings(300)
@given(
    conditions=st.lists(booleans(), min_size=1, max_size=6),
    campaigns=st.lists(campaigns(), min_size=1, max_size=8),
    stage=st.sampled_from(["publish", "payout"]),
)
def test_every_evaluator_gives_every_generated_condition_rule_engines_status(
    folder: Path, conditions: list[str], campaigns: list[Campaign], stage: str
) -> None:
    ruleset = ruleset_of(folder, [(condition, "[]") for condition in conditions])
    found = disagreements(ruleset, campaigns, stage)
    assert not found, f"{len(found)} disagreement(s); first:\n" + "\n".join(found[:5])
