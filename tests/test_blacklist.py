"""The blacklist holds keyed hashes only; files carry a key check, never the key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import compliance
from compliance import Blacklist, BlacklistError
from compliance.blacklist import hash_id_number


def evaluate(*args: Any, **kwargs: Any) -> compliance.Decision:
    """These tests check the rules alone; risk scoring has its own tests (tests/test_risk_*.py)."""
    return compliance.evaluate(*args, model=None, **kwargs)


KEY = "a platform key of enough length"
LISTED = "110101198001010000"


def test_the_hash_is_keyed_normalised_and_not_the_plain_sha256() -> None:
    import hashlib

    assert hash_id_number(" 11010119800101000x ", KEY) == hash_id_number("11010119800101000X", KEY)
    assert hash_id_number(LISTED, KEY) != hash_id_number(LISTED, KEY + "!")
    assert hash_id_number(LISTED, KEY) != hashlib.sha256(LISTED.encode()).hexdigest()


def test_a_short_key_is_refused() -> None:
    with pytest.raises(BlacklistError, match="at least 16 bytes"):
        Blacklist([], key="short")


def test_raw_numbers_are_refused_where_hashes_are_expected_without_echoing_them() -> None:
    with pytest.raises(BlacklistError) as caught:
        Blacklist([LISTED], key=KEY)
    assert LISTED not in str(caught.value)


def test_membership_by_raw_number_or_by_hash_and_unknown_without_either() -> None:
    blacklist = Blacklist.from_id_numbers([LISTED], key=KEY)
    assert blacklist.contains(id_number=LISTED) is True
    assert blacklist.contains(id_number="110101198001010001") is False
    assert blacklist.contains(id_number_hash=hash_id_number(LISTED, KEY)) is True
    assert blacklist.contains() is None
    assert LISTED not in repr(blacklist)


def test_a_saved_file_holds_sorted_hashes_and_a_key_check_but_not_the_key(tmp_path: Path) -> None:
    path = tmp_path / "blacklist.json"
    Blacklist.from_id_numbers([LISTED, "440101197505050000"], key=KEY).save(path)
    text = path.read_text()
    data = json.loads(text)
    assert data["hashes"] == sorted(data["hashes"]) and len(data["hashes"]) == 2
    assert KEY not in text and LISTED not in text
    assert Blacklist.load(path, key=KEY).contains(id_number=LISTED) is True


def test_loading_with_another_key_fails_rather_than_matching_nobody(tmp_path: Path) -> None:
    path = tmp_path / "blacklist.json"
    Blacklist.from_id_numbers([LISTED], key=KEY).save(path)
    with pytest.raises(BlacklistError, match="different key"):
        Blacklist.load(path, key="another platform's key!!")


@pytest.mark.parametrize(
    "content", ["not json", '{"format": "other", "hashes": []}', '{"format": "compliance-blacklist/1"}']
)
def test_a_file_that_is_not_a_blacklist_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(BlacklistError):
        Blacklist.load(path, key=KEY)


def test_a_match_rejects_and_the_decision_never_shows_the_number() -> None:
    campaign = json.loads((Path(__file__).parent.parent / "examples" / "campaign-publish.json").read_text())
    campaign["patient"]["id_number"] = LISTED
    decision = evaluate(campaign, blacklist=Blacklist.from_id_numbers([LISTED], key=KEY))
    assert decision.outcome == "reject"
    assert decision.rule_results["cv2.blacklist.patient"] == "fail"
    finding = next(f for f in decision.findings if f.rule_id == "cv2.blacklist.patient")
    assert finding.values == {"blacklist.patient": True}
    for text in (str(decision), decision.model_dump_json(), repr(decision)):
        assert LISTED not in text


def test_its_hashes_are_readable_and_hold_no_raw_number() -> None:
    number = "110101199003074578"
    blacklist = Blacklist.from_id_numbers([number], key="a platform key of 16+ chars")
    assert blacklist.hashes == frozenset({hash_id_number(number, "a platform key of 16+ chars")})
    assert number not in "".join(blacklist.hashes)
