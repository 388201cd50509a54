"""The compiled conditions give exactly rule-engine's results (rule-engine is the reference semantics)."""

from __future__ import annotations

import types

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compliance.campaign import Campaign
from compliance.rules import Catalog
from compliance.rules._schema import Facts
from tests.strategies import MAYBE_BOOL, campaigns

CATALOG = Catalog.default()
RULES = [rule for ruleset in CATALOG for rule in ruleset.rules]


def test_every_shipped_rule_is_compiled() -> None:
    assert [r.id for r in RULES if not r.compiled] == []


@pytest.mark.parametrize("stage", ["publish", "payout"])
@given(data=campaigns(), listed=st.tuples(MAYBE_BOOL, MAYBE_BOOL, MAYBE_BOOL))
def test_compiled_status_equals_rule_engine_status_for_every_rule(stage: str, data: dict, listed: tuple) -> None:
    campaign = Campaign.parse(data)
    blacklist = types.SimpleNamespace(initiator=listed[0], patient=listed[1], payee=listed[2])
    facts = Facts(campaign, stage, blacklist, campaign.disclosure.__dict__)
    for rule in RULES:
        assert rule.status(facts) == rule.reference_status(facts), rule.id
