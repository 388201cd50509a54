"""One condition, three evaluators: rule-engine's own (the reference), ``evaluate()`` and ``evaluate_frame``.

A test writes conditions as a platform would (a rule file with one rule each), and compares, campaign by
campaign, the status each evaluator gives every rule.
"""

from __future__ import annotations

import uuid
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

import compliance
from compliance import Campaign
from compliance._flat import FLAT_COLUMNS, flatten
from compliance.blacklist import UNCHECKED
from compliance.errors import FallbackWarning
from compliance.rules import Ruleset, load_ruleset
from compliance.rules._schema import Facts
from tests.builders import rule_yaml

HEADER = """\
ruleset:
  id: three-{tag}
  title: {{zh: 三路, en: Three paths}}
  family: three-{tag}
  effective_from: 1970-01-01
  revision: 1
parameters:
  cap: {{type: money, value: 500000, title: {{zh: 上限, en: Cap}}, source: {{note: test}}}}
  cut: {{type: number, value: 2.5, title: {{zh: 界限, en: Cut}}, source: {{note: test}}}}
  name: {{type: string, value: abc, title: {{zh: 名称, en: Name}}, source: {{note: test}}}}
  nope: {{type: string, value: not-an-item, title: {{zh: 无, en: None}}, source: {{note: test}}}}
  payees:
    {{type: string_list, value: [patient, hospital_account], title: {{zh: 收款人, en: Payees}}, source: {{note: test}}}}
  items: {{type: disclosure_items, value: [house, car], title: {{zh: 事项, en: Items}}, source: {{note: test}}}}
rules:
"""
"""Parameters of each kind, for conditions to read; rule ids are fresh per ruleset (a fallback warns once per id)."""

Statuses = tuple[str, str, str]
"""A rule's status by (rule-engine, evaluate(), evaluate_frame)."""


def ruleset_of(folder: Path, conditions: list[tuple[str, str]]) -> Ruleset:
    """A ruleset with one rule per (fails_when, requires), ids ``r0``, ``r1``, … after a fresh tag."""
    tag = uuid.uuid4().hex[:10]
    text = HEADER.format(tag=tag)
    for i, (condition, requires) in enumerate(conditions):
        text += rule_yaml(f"t{tag}.r{i}", condition, requires)
    path = folder / f"three-{tag}.yaml"
    path.write_text(text, encoding="utf-8")
    return load_ruleset(path)


def frame_of(campaigns: list[Campaign]) -> pd.DataFrame:
    """The campaigns as a table (the values ``flatten`` gives, in object columns)."""
    return pd.DataFrame([flatten(c) for c in campaigns], columns=list(FLAT_COLUMNS), dtype=object)


def statuses(
    ruleset: Ruleset, campaigns: list[Campaign], stage: str = "publish", *, frame: pd.DataFrame | None = None
) -> list[dict[str, Statuses]]:
    """For each campaign, each rule's status by the three evaluators. ``frame`` (default: the campaigns as a
    table) is what ``evaluate_frame`` reads; its rows must be the campaigns."""
    table = frame_of(campaigns) if frame is None else frame
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FallbackWarning)
        out = evaluate_frame_statuses(table, ruleset, stage)
    results = []
    for i, campaign in enumerate(campaigns):
        facts = Facts(campaign, stage, UNCHECKED, campaign.disclosure.__dict__)
        single = compliance.evaluate(campaign, stage=stage, ruleset=ruleset, model=None).rule_results
        rules = ruleset.rules_for(stage)
        results.append({r.id: (r.reference_status(facts), single[r.id], out[i][r.id]) for r in rules})
    return results


def evaluate_frame_statuses(frame: pd.DataFrame, ruleset: Ruleset, stage: str) -> list[dict[str, str]]:
    """Each row's rule statuses as ``evaluate_frame`` reports them (its rules have no applies_when: a rule
    neither failed nor not evaluable passed)."""
    out = compliance.evaluate_frame(frame, stage=stage, ruleset=ruleset, model=None)
    assert out["error"].isna().all(), list(out["error"].dropna())
    rows = []
    for failed, unevaluable in zip(out["failed_rules"], out["not_evaluable_rules"], strict=True):
        fail, unknown = set(failed.split(";")), set(unevaluable.split(";"))
        rows.append(
            {r.id: "fail" if r.id in fail else "not_evaluable" if r.id in unknown else "pass" for r in ruleset.rules}
        )
    return rows


def disagreements(ruleset: Ruleset, campaigns: list[Campaign], stage: str = "publish", **options: Any) -> list[str]:
    """Every rule and campaign where the three evaluators do not all agree, described."""
    texts = {r.id: r.fails_when for r in ruleset.rules}
    found = []
    for i, by_rule in enumerate(statuses(ruleset, campaigns, stage, **options)):
        for rule_id, (reference, single, column) in by_rule.items():
            if not reference == single == column:
                found.append(
                    f"{texts[rule_id]!r} on campaign {i}: rule-engine {reference}, evaluate() {single}, "
                    f"evaluate_frame {column}"
                )
    return found
