"""Golden cases: run every case written in ``tests/cases/*.yaml`` as one test, named by the case id.

The file format is described in ``tests/cases/README.md``. In short: each file has a compliant ``base``
campaign; each case deep-merges its ``changes`` over it, evaluates it, and compares the decision with
``expect``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import compliance
from compliance.blacklist import hash_id_number


def evaluate(*args: Any, **kwargs: Any) -> compliance.Decision:
    """These tests check the rules alone; risk scoring has its own tests (tests/test_risk_*.py)."""
    return compliance.evaluate(*args, model=None, **kwargs)


CASES_DIR = Path(__file__).parent / "cases"
PLATFORM_KEY = "golden-cases-platform-key"  # the key every "hash of ..." and blacklist is made with
HASH_OF = "hash of "

FILE_KEYS = {"base", "blacklisted_ids", "ruleset", "cases"}
CASE_KEYS = {"id", "description", "stage", "ruleset", "blacklist", "changes", "expect"}
EXPECT_KEYS = {"error", "outcome", "ruleset", "rule_results", "failed", "obligations", "payout_routes"}


def deep_merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` laid over it: nested mappings merge, any other value (null too) replaces."""
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def with_hashes(value: Any) -> Any:
    """Replace each text ``hash of <id number>`` by the keyed hash of that number."""
    if isinstance(value, dict):
        return {key: with_hashes(item) for key, item in value.items()}
    if isinstance(value, str) and value.startswith(HASH_OF):
        return hash_id_number(value.removeprefix(HASH_OF), PLATFORM_KEY)
    return value


def _check_keys(mapping: Any, allowed: set[str], required: set[str], where: str) -> None:
    if not isinstance(mapping, dict):
        raise ValueError(f"{where}: expected a mapping")
    unknown, missing = set(mapping) - allowed, required - set(mapping)
    if unknown or missing:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")


def load_cases() -> list[Any]:
    """One pytest parameter per case and ruleset; a case listing several rulesets runs under each."""
    params = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        _check_keys(document, FILE_KEYS, {"base", "cases"}, path.name)
        for case in document["cases"]:
            where = f"{path.name}, case {case.get('id')!r}"
            _check_keys(case, CASE_KEYS, {"id", "description", "stage", "expect"}, where)
            _check_keys(case["expect"], EXPECT_KEYS, set(), where + ", expect")
            if ("error" in case["expect"]) == ("outcome" in case["expect"]):
                raise ValueError(f"{where}: expect needs exactly one of outcome and error")
            if case.get("blacklist", "none") != "none":
                raise ValueError(f"{where}: the only case-level blacklist setting is 'none'")
            rulesets = case["ruleset"] if "ruleset" in case else document.get("ruleset")
            if isinstance(rulesets, list):
                params += [pytest.param(document, case, r, id=f"{case['id']}@{r}") for r in rulesets]
            else:
                params.append(pytest.param(document, case, rulesets, id=case["id"]))
    ids = [p.id for p in params]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"case ids must be unique: {duplicates}")
    return params


def _obligations(items: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    return sorted((o["code"], list(o["items"])) for o in items)


@pytest.mark.parametrize(("document", "case", "ruleset"), load_cases())
def test_case(document: dict[str, Any], case: dict[str, Any], ruleset: str | None) -> None:
    campaign = with_hashes(deep_merge(document["base"], case.get("changes") or {}))
    blacklist = None
    if "blacklisted_ids" in document and case.get("blacklist") != "none":
        blacklist = compliance.Blacklist.from_id_numbers(document["blacklisted_ids"], key=PLATFORM_KEY)
    expect = case["expect"]

    def run() -> compliance.Decision:
        return evaluate(campaign, stage=case["stage"], ruleset=ruleset, blacklist=blacklist)

    if "error" in expect:
        with pytest.raises(getattr(compliance, expect["error"])):
            run()
        return

    decision = run()
    # Every rule that failed or could not be evaluated is explained by a finding citing its clauses.
    flagged = {rule: s for rule, s in decision.rule_results.items() if s in ("fail", "not_evaluable")}
    assert {f.rule_id: f.status for f in decision.findings} == flagged
    assert all(f.citations for f in decision.findings)

    routes, results = decision.payout_routes, decision.rule_results
    got = {
        "outcome": decision.outcome,
        "ruleset": decision.ruleset.id,
        "rule_results": {rule: results.get(rule, "absent") for rule in expect.get("rule_results", ())},
        "failed": sorted(rule for rule, s in results.items() if s == "fail"),
        "obligations": _obligations([{"code": o.code, "items": o.items} for o in decision.obligations]),
        "payout_routes": None if routes is None else list(routes),
    }
    want = dict(expect)
    if "failed" in want:
        want["failed"] = sorted(want["failed"])
    if "obligations" in want:
        want["obligations"] = _obligations(want["obligations"])
    assert {key: got[key] for key in want} == want  # only what the case states is compared
