"""The input schema: exact money, time zones, null meaning 'not answered', clear errors that never echo input."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from compliance import Campaign, CampaignError

BASE = {"campaign_id": "c-1", "platform": "水滴筹", "created_at": "2025-03-01 09:30", "target_amount": 200000}


def parse(**changes: object) -> Campaign:
    return Campaign.parse({**BASE, **changes})


@pytest.mark.parametrize("given", [49999.99, "49999.99", Decimal("49999.99"), " 49999.99 "])
def test_an_amount_is_exact_to_the_fen_however_it_is_written(given: object) -> None:
    assert parse(raised_amount=given).raised_amount == Decimal("49999.99")


def test_whole_amounts_are_held_with_two_places_so_equal_inputs_digest_alike() -> None:
    assert str(parse(raised_amount=50000).raised_amount) == "50000.00"
    assert parse(raised_amount=50000).model_dump_json() == parse(raised_amount="50000.00").model_dump_json()


@pytest.mark.parametrize(
    ("given", "code"),
    [
        (-1, "greater_than_equal"),
        (float("nan"), "finite_number"),
        (float("inf"), "finite_number"),
        ("12,000", "decimal_parsing"),
        ("50000.001", "decimal_max_places"),
        (True, "decimal_type"),
        (0.1 + 0.2, "decimal_max_places"),
    ],
)
def test_an_unreadable_amount_is_rejected_naming_the_field(given: object, code: str) -> None:
    with pytest.raises(CampaignError) as caught:
        parse(raised_amount=given)
    assert [(p.loc, p.code) for p in caught.value.problems] == [("raised_amount", code)]


def test_a_naive_time_means_shanghai_and_an_aware_one_is_converted() -> None:
    naive = parse(created_at="2020-08-18 00:00").created_at
    assert naive.utcoffset().total_seconds() == 8 * 3600 and naive.hour == 0
    aware = parse(created_at=datetime(2020, 8, 17, 16, 0, tzinfo=UTC)).created_at
    assert (aware.date().isoformat(), aware.hour) == ("2020-08-18", 0)
    assert parse(created_at="2020-08-18").created_at == naive


def test_null_disclosure_means_not_answered_and_differs_from_false() -> None:
    campaign = parse(disclosure={"house": False})
    assert campaign.disclosure.house is False
    assert campaign.disclosure.car is None


def test_every_problem_is_reported_at_once_with_its_field() -> None:
    with pytest.raises(CampaignError) as caught:
        Campaign.parse(
            {
                "campaign_id": "",
                "platform": "x",
                "created_at": "soon",
                "target_amount": -1,
                "initiator": {"relation_to_patient": "cousin"},
                "payout": {"payee": "me"},
                "colour": "red",
            }
        )
    locs = {p.loc for p in caught.value.problems}
    assert {
        "campaign_id",
        "created_at",
        "target_amount",
        "initiator.relation_to_patient",
        "payout.amount",
        "payout.payee",
        "payout.requested_at",
        "colour",
    } <= locs


def test_an_error_never_echoes_the_input_and_never_an_identity_number() -> None:
    with pytest.raises(CampaignError) as caught:
        parse(
            initiator={"id_number": "110101199003074578", "real_name_verified": "110101199003074578"},
            raised_amount="110101199003074578.123",
        )
    assert "110101199003074578" not in str(caught.value)
    assert "initiator.real_name_verified" in str(caught.value)


def test_a_row_number_is_named_when_given() -> None:
    with pytest.raises(CampaignError, match=r"^row 17: campaign is not readable"):
        Campaign.parse({**BASE, "target_amount": "lots"}, row=17)


def test_something_that_is_not_a_mapping_is_a_campaign_error() -> None:
    with pytest.raises(CampaignError) as caught:
        Campaign.parse(["not", "a", "campaign"])  # type: ignore[arg-type]
    assert caught.value.problems[0].code == "type"


def test_identity_numbers_are_secrets_kept_out_of_repr_and_dumps() -> None:
    campaign = parse(initiator={"id_number": " 11010119900307457x "})
    assert campaign.initiator.id_number.get_secret_value() == "11010119900307457X"
    for text in (repr(campaign), campaign.model_dump_json(), str(campaign.model_dump())):
        assert "11010119900307457" not in text


def test_a_campaign_is_immutable() -> None:
    with pytest.raises(Exception, match="frozen"):
        parse().raised_amount = Decimal(1)  # type: ignore[misc]


def test_json_text_reads_as_the_same_campaign_as_its_dict() -> None:
    import json

    data = {**BASE, "raised_amount": "49999.99", "disclosure": {"house": False}}
    text = json.dumps(data, ensure_ascii=False)
    assert Campaign.parse(text) == Campaign.parse(text.encode("utf-8")) == Campaign.parse(data)


def test_invalid_json_text_is_a_campaign_error_that_does_not_echo_it() -> None:
    with pytest.raises(CampaignError) as caught:
        Campaign.parse('{"campaign_id": "c-1", "initiator": {"id_number": "110101199003074578"')
    assert caught.value.problems[0].code == "json_invalid"
    assert "110101199003074578" not in str(caught.value)


def test_json_text_errors_name_the_field() -> None:
    with pytest.raises(CampaignError) as caught:
        Campaign.parse('{"campaign_id": "c", "platform": "p", "created_at": "2025-01-01", "target_amount": -3}')
    assert [(p.loc, p.code) for p in caught.value.problems] == [("target_amount", "greater_than_equal")]
