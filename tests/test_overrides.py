"""A platform customises the shipped catalog: overrides a parameter, adds its own rules and clauses.

Each customisation must change exactly what it says, be recorded on the decisions it makes, and leave
``Catalog.default()`` as it was.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import compliance
from compliance import Blacklist, RuleFileError
from compliance.rules import Catalog, load_ruleset
from compliance.rules._catalog import RULES_DIR


def evaluate(*args: Any, **kwargs: Any) -> compliance.Decision:
    """These tests check the rules alone; risk scoring has its own tests (tests/test_risk_*.py)."""
    return compliance.evaluate(*args, model=None, **kwargs)


KEY = "a platform key of 16+ chars"
BLACKLIST = Blacklist(["f" * 64], key=KEY)  # nobody in these campaigns is listed
ALL_ANSWERED = {
    item: False
    for item in (
        "basic_medical_insurance",
        "commercial_insurance",
        "minimum_subsistence_allowance",
        "registered_poor_household",
        "government_medical_aid",
        "other_platform_fundraising",
        "house",
        "car",
    )
}

CONVENTION_1 = ("2019-06-01 10:00", "cv1.cap.target", "convention-1.0")
CONVENTION_2 = ("2022-06-01 10:00", "cv2.cap.target", "convention-2.0")


def campaign(created_at: str = "2022-06-01 10:00", **fields: Any) -> dict[str, Any]:
    """A campaign that passes every shipped rule (so any change in outcome comes from the test)."""
    base: dict[str, Any] = {
        "campaign_id": "c1",
        "platform": "水滴筹",
        "created_at": created_at,
        "target_amount": "200000",
        "raised_amount": "0",
        "initiator": {
            "real_name_verified": True,
            "truthfulness_acknowledged": True,
            "id_number_hash": "a" * 64,
            "relation_to_patient": "parent",
        },
        "patient": {"real_name_verified": True, "id_number_hash": "b" * 64},
        "disclosure": dict(ALL_ANSWERED),
        "documents": {"medical_proof": True, "medical_plan": True, "cost_list": True, "plan_published": True},
    }
    base.update(fields)
    return base


def payout_campaign(raised: str, *, payee: str = "patient", **fields: Any) -> dict[str, Any]:
    payout = {"amount": "1000", "payee": payee, "requested_at": "2022-07-01 10:00"}
    return campaign(raised_amount=raised, payout=payout, **fields)


@pytest.fixture(scope="module")
def lower_cap() -> Catalog:
    return Catalog.default().with_parameters({"max_target_amount": 400000})


def test_the_test_campaign_is_approved_by_the_shipped_rules() -> None:
    for created_at in ("2019-06-01 10:00", "2022-06-01 10:00", "2025-06-01 10:00"):
        decision = evaluate(campaign(created_at), blacklist=BLACKLIST)
        assert (decision.outcome, decision.findings) == ("approve", ()), decision


# -- a parameter override -------------------------------------------------------------------------


@pytest.mark.parametrize(("created_at", "rule_id", "ruleset_id"), [CONVENTION_1, CONVENTION_2])
def test_lower_cap_moves_the_boundary_to_the_fen(
    lower_cap: Catalog, created_at: str, rule_id: str, ruleset_id: str
) -> None:
    expected = {  # target: (with the override, shipped)
        "400000.00": ("pass", "pass"),
        "400000.01": ("fail", "pass"),
        "500000.00": ("fail", "pass"),
        "500000.01": ("fail", "fail"),
    }
    for target, (custom_status, shipped_status) in expected.items():
        custom = evaluate(campaign(created_at, target_amount=target), ruleset=lower_cap, blacklist=BLACKLIST)
        shipped = evaluate(campaign(created_at, target_amount=target), blacklist=BLACKLIST)
        assert custom.ruleset.id == shipped.ruleset.id == ruleset_id
        assert (custom.rule_results[rule_id], shipped.rule_results[rule_id]) == (
            custom_status,
            shipped_status,
        ), target
        assert custom.outcome == ("review" if custom_status == "fail" else "approve")


@pytest.mark.parametrize(("created_at", "rule_id", "ruleset_id"), [CONVENTION_1, CONVENTION_2])
def test_override_is_recorded_on_the_decision(
    lower_cap: Catalog, created_at: str, rule_id: str, ruleset_id: str
) -> None:
    custom = evaluate(campaign(created_at, target_amount="400000.01"), ruleset=lower_cap, blacklist=BLACKLIST)
    shipped = evaluate(campaign(created_at, target_amount="400000.01"), blacklist=BLACKLIST)
    assert custom.ruleset.overrides == ("max_target_amount",)
    assert shipped.ruleset.overrides == ()
    assert custom.ruleset.revision.endswith("+custom")
    assert custom.ruleset.revision == "1+custom"
    assert shipped.ruleset.revision == "1"
    assert custom.ruleset.digest != shipped.ruleset.digest
    assert custom.ruleset.digest == lower_cap.get(ruleset_id).digest
    (finding,) = custom.findings
    assert finding.rule_id == rule_id
    assert finding.values["params.max_target_amount"] == "400000.00"
    assert "¥400,000.01" in finding.message.en and "¥400,000.00" in finding.message.en


def test_override_applies_with_the_charity_law_layer_too(lower_cap: Catalog) -> None:
    decision = evaluate(campaign("2025-06-01 10:00", target_amount="400000.01"), ruleset=lower_cap, blacklist=BLACKLIST)
    assert decision.ruleset.id == "convention-2.0+charity-law-2024"
    assert decision.rule_results["cv2.cap.target"] == "fail"
    assert decision.ruleset.overrides == ("max_target_amount",)
    assert "+custom" in decision.ruleset.revision
    assert decision.ruleset.digest != Catalog.default().for_date(date(2025, 6, 1)).digest


def test_overridden_parameter_is_marked(lower_cap: Catalog) -> None:
    for ruleset_id in ("convention-1.0", "convention-2.0"):
        parameter = lower_cap.get(ruleset_id).parameters["max_target_amount"]
        assert (parameter.value, parameter.overridden) == (Decimal("400000.00"), True)
        other = lower_cap.get("convention-2.0").parameters["payout_restriction_amount"]
        assert other.overridden is False
    assert lower_cap.get("charity-law-2024").revision == "1"
    assert lower_cap.get("charity-law-2024").digest == Catalog.default().get("charity-law-2024").digest


@pytest.mark.parametrize("value", [400000, "400000", "400000.00", Decimal("400000"), 400000.0])
def test_override_value_forms_are_equivalent(value: Any) -> None:
    catalog = Catalog.default().with_parameters({"max_target_amount": value})
    assert catalog.get("convention-2.0").parameters["max_target_amount"].value == Decimal("400000.00")


def test_payout_restriction_override_moves_the_payout_boundary() -> None:
    catalog = Catalog.default().with_parameters({"payout_restriction_amount": 100000})
    cases = {  # raised: (with the override, shipped)
        "99999.99": ("not_applicable", "not_applicable"),
        "100000.00": ("fail", "not_applicable"),
        "299999.99": ("fail", "not_applicable"),
        "300000.00": ("fail", "fail"),
    }
    for raised, (custom_status, shipped_status) in cases.items():
        custom = evaluate(payout_campaign(raised), stage="payout", ruleset=catalog, blacklist=BLACKLIST)
        shipped = evaluate(payout_campaign(raised), stage="payout", blacklist=BLACKLIST)
        assert custom.rule_results["cv2.payout.route"] == custom_status, raised
        assert shipped.rule_results["cv2.payout.route"] == shipped_status, raised
        if custom_status == "fail":
            assert custom.outcome == "reject"
            assert custom.payout_routes == ("hospital_account", "batched_with_plan")
        assert custom.ruleset.overrides == ("payout_restriction_amount",)
    # Paying the hospital is the permitted route above the (new) threshold.
    hospital = evaluate(
        payout_campaign("100000.00", payee="hospital_account"),
        stage="payout",
        ruleset=catalog,
        blacklist=BLACKLIST,
    )
    assert hospital.rule_results["cv2.payout.route"] == "pass"
    assert hospital.outcome == "approve_with_conditions"


def test_overrides_accumulate() -> None:
    catalog = (
        Catalog.default()
        .with_parameters({"max_target_amount": 400000})
        .with_parameters({"payout_restriction_amount": 100000})
    )
    assert catalog.get("convention-2.0").overrides == ("max_target_amount", "payout_restriction_amount")
    assert catalog.get("convention-1.0").overrides == ("max_target_amount",)
    again = catalog.with_parameters({"max_target_amount": 450000})
    assert again.get("convention-2.0").parameters["max_target_amount"].value == Decimal("450000.00")
    assert again.get("convention-2.0").parameters["payout_restriction_amount"].value == Decimal("100000.00")


def test_unknown_override_name() -> None:
    with pytest.raises(RuleFileError) as info:
        Catalog.default().with_parameters({"max_target_amount": 400000, "max_target": 400000})
    (problem,) = info.value.problems
    assert problem.code == "unknown_parameter"
    assert problem.file == "(overrides)"
    assert "'max_target'" in problem.message
    assert "max_target_amount" in problem.message  # the known names are listed


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (-1, "greater than or equal to 0"),
        ("lots", "valid decimal"),
        ("400000.005", "2 decimal places"),
        (None, "Decimal input"),
    ],
)
def test_bad_override_value_is_a_bad_parameter(value: Any, fragment: str) -> None:
    with pytest.raises(RuleFileError) as info:
        Catalog.default().with_parameters({"max_target_amount": value})
    bad = [p for p in info.value.problems if p.code == "bad_parameter"]
    # Both conventions have the parameter; each reports the override at its own definition.
    assert sorted(p.file for p in bad) == [
        str(RULES_DIR / "convention-1.0" / "ruleset.yaml"),
        str(RULES_DIR / "convention-2.0" / "ruleset.yaml"),
    ]
    for problem in bad:
        lines = Path(problem.file).read_text(encoding="utf-8").splitlines()
        assert problem.line is not None and lines[problem.line - 1].strip() == "value: 500000"
        assert "override of parameter max_target_amount (money)" in problem.message
        assert fragment in problem.message


def test_bad_override_value_is_not_also_reported_as_an_unknown_parameter() -> None:
    # The parameter exists; only its value is wrong. Rules that read it must not be reported as using
    # an "unknown parameter" (with a did-you-mean pointing at a different parameter).
    with pytest.raises(RuleFileError) as info:
        Catalog.default().with_parameters({"max_target_amount": -1})
    assert [p.code for p in info.value.problems] == ["bad_parameter", "bad_parameter"]


def test_bad_disclosure_items_override() -> None:
    with pytest.raises(RuleFileError) as info:
        Catalog.default().with_parameters({"complete_disclosure_items": ["house", "boat"]})
    bad = [p for p in info.value.problems if p.code == "bad_parameter"]
    (problem,) = bad
    assert problem.file == str(RULES_DIR / "convention-2.0" / "ruleset.yaml")
    assert "'boat'" in problem.message


def test_valid_disclosure_items_override_changes_when_disclosure_is_complete() -> None:
    catalog = Catalog.default().with_parameters({"complete_disclosure_items": ["house", "car"]})
    disclosure = {**ALL_ANSWERED, "commercial_insurance": None}
    raised = "60000.00"  # above the incomplete-disclosure threshold (50,000), below 300,000
    custom = evaluate(
        payout_campaign(raised, disclosure=disclosure), stage="payout", ruleset=catalog, blacklist=BLACKLIST
    )
    shipped = evaluate(payout_campaign(raised, disclosure=disclosure), stage="payout", blacklist=BLACKLIST)
    assert shipped.rule_results["cv2.payout.route"] == "fail"
    assert custom.rule_results["cv2.payout.route"] == "not_applicable"


def test_load_ruleset_takes_overrides(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text(ACME_RULESET, encoding="utf-8")
    plain = load_ruleset(path, clauses=[_clause_file(tmp_path)])
    custom = load_ruleset(path, clauses=[_clause_file(tmp_path)], parameters={"acme_target_cap": 1000})
    assert (plain.revision, plain.overrides) == ("3", ())
    assert (custom.revision, custom.overrides) == ("3+custom", ("acme_target_cap",))
    assert custom.digest != plain.digest
    with pytest.raises(RuleFileError) as info:
        load_ruleset(path, clauses=[_clause_file(tmp_path)], parameters={"max_target_amount": 1})
    assert [p.code for p in info.value.problems] == ["unknown_parameter"]


# -- a platform's own rules and clauses -----------------------------------------------------------


ACME_CLAUSES = """\
# Acme's own published rules (a platform clause file, same format as the shipped corpus).
document:
  id: acme-2021
  title: {zh: 甲平台求助规则, en: Acme help rules}
  issuers: [甲平台]
  adopted: 2021-01-01
  in_force: 2021-01-01
  full_text_available: true
clauses:
  - id: acme-2021/art-3
    article: 第三条
    topic: Targets above ¥200,000 need an itemised cost estimate
    text: 目标金额超过二十万元的，发起人应当提交医疗花费清单。
    gloss: A campaign seeking more than ¥200,000 must submit an itemised cost list.
    grade: verbatim
    source: {outlet: 甲平台, date: 2021-01-01, address: "https://acme.example/rules"}
  - id: acme-2021/art-4
    article: 第四条
    topic: The patient's relation to the initiator is stated
    text: 发起人应当说明与患者的关系。
    gloss: The initiator states their relation to the patient.
    grade: verbatim
    source: {outlet: 甲平台, date: 2021-01-01}
"""

ACME_RULESET = """\
ruleset:
  id: acme
  title: {zh: 甲平台规则, en: Acme platform rules}
  family: acme
  effective_from: 2021-01-01
  revision: 3
parameters:
  acme_target_cap:
    type: money
    value: 200000
    title: {zh: 须提交花费清单的目标金额, en: Target above which a cost list is required}
    source: {clause: acme-2021/art-3, note: Acme's own rule}
rules:
  - id: acme.cost-list
    title: {zh: 大额目标须提交花费清单, en: Large targets need a cost list}
    stages: [publish]
    severity: medium
    applies_when: target_amount > params.acme_target_cap
    requires: [documents.cost_list]
    fails_when: not documents.cost_list
    effect: {outcome: review}
    cites: [acme-2021/art-3]
    message:
      zh: 目标金额 {target_amount} 元超过 {params.acme_target_cap} 元，未提交医疗花费清单。
      en: The target of ¥{target_amount} exceeds ¥{params.acme_target_cap} without a cost list.
  - id: acme.relation
    title: {zh: 说明与患者关系, en: Relation to the patient stated}
    stages: [publish]
    severity: low
    fails_when: initiator.relation_to_patient == null
    effect: {outcome: review}
    cites: [acme-2021/art-4, convention-2.0/real-name-verification]
    message: {zh: 未说明与患者的关系。, en: The relation to the patient is not stated.}
"""


def _clause_file(tmp_path: Path) -> Path:
    path = tmp_path / "acme-2021.yaml"
    path.write_text(ACME_CLAUSES, encoding="utf-8")
    return path


@pytest.fixture
def acme(tmp_path: Path) -> Catalog:
    path = tmp_path / "acme.yaml"
    path.write_text(ACME_RULESET, encoding="utf-8")
    return Catalog.default().with_rules(path, clauses=[_clause_file(tmp_path)])


def test_platform_family_applies_by_date_with_the_shipped_ones(acme: Catalog) -> None:
    assert acme.for_date(date(2019, 6, 1)).id == "convention-1.0"
    assert acme.for_date(date(2020, 12, 31)).id == "convention-2.0"
    assert acme.for_date(date(2021, 1, 1)).id == "convention-2.0+acme"
    assert acme.for_date(datetime(2025, 6, 1, 10, 0)).id == "convention-2.0+acme+charity-law-2024"
    combined = acme.for_date(date(2022, 6, 1))
    assert combined.families == ("convention", "acme")
    assert combined.revision == "1+3"
    assert [m.id for m in combined.members] == ["convention-2.0", "acme"]


def test_platform_rule_cites_the_platform_clause_end_to_end(acme: Catalog) -> None:
    documents = {"medical_proof": True, "cost_list": False}
    decision = evaluate(campaign(target_amount="200000.01", documents=documents), ruleset=acme, blacklist=BLACKLIST)
    assert decision.ruleset.id == "convention-2.0+acme"
    assert decision.rule_results["acme.cost-list"] == "fail"
    assert decision.rule_results["acme.relation"] == "pass"
    assert decision.outcome == "review"
    (finding,) = decision.findings
    assert finding.rule_id == "acme.cost-list"
    assert finding.message.en == "The target of ¥200,000.01 exceeds ¥200,000.00 without a cost list."
    (citation,) = finding.citations
    assert citation.clause_id == "acme-2021/art-3"
    assert citation.document_id == "acme-2021"
    assert citation.document_title.en == "Acme help rules"
    assert citation.text == "目标金额超过二十万元的，发起人应当提交医疗花费清单。"
    assert citation.grade == "verbatim"
    assert citation.presented().startswith("甲平台求助规则 第三条 — the clause says")
    # A platform rule may also cite the shipped corpus.
    relation = evaluate(
        campaign(
            initiator={
                "real_name_verified": True,
                "truthfulness_acknowledged": True,
                "id_number_hash": "a" * 64,
            }
        ),
        ruleset=acme,
        blacklist=BLACKLIST,
    )
    (finding,) = relation.findings
    assert [c.clause_id for c in finding.citations] == [
        "acme-2021/art-4",
        "convention-2.0/real-name-verification",
    ]

    at_boundary = evaluate(campaign(target_amount="200000.00", documents=documents), ruleset=acme, blacklist=BLACKLIST)
    assert at_boundary.rule_results["acme.cost-list"] == "not_applicable"
    assert at_boundary.outcome == "approve"


def test_platform_rules_do_not_apply_before_their_effective_date(acme: Catalog) -> None:
    decision = evaluate(
        campaign("2020-12-31 23:59", target_amount="200000.01", documents={"medical_proof": True}),
        ruleset=acme,
        blacklist=BLACKLIST,
    )
    assert decision.ruleset.id == "convention-2.0"
    assert not any(rule_id.startswith("acme.") for rule_id in decision.rule_results)
    # Midnight in Shanghai is when it starts, even for a time given in UTC.
    just_after = datetime(2020, 12, 31, 16, 0, tzinfo=ZoneInfo("UTC"))
    assert acme.for_date(just_after).id == "convention-2.0+acme"


def test_platform_ruleset_and_shipped_parameters_are_overridable_together(acme: Catalog) -> None:
    catalog = acme.with_parameters({"acme_target_cap": 300000, "max_target_amount": 400000})
    ruleset = catalog.for_date(date(2022, 6, 1))
    assert ruleset.overrides == ("acme_target_cap", "max_target_amount")
    assert ruleset.revision == "1+custom+3+custom"
    documents = {"medical_proof": True, "cost_list": False}
    decision = evaluate(campaign(target_amount="300000.00", documents=documents), ruleset=catalog, blacklist=BLACKLIST)
    assert decision.rule_results["acme.cost-list"] == "not_applicable"
    assert decision.ruleset.overrides == ("acme_target_cap", "max_target_amount")


def test_platform_clauses_join_the_catalog_corpus_only(acme: Catalog) -> None:
    assert "acme-2021/art-3" in acme.corpus
    assert acme.corpus.documents["acme-2021"].zh == "甲平台求助规则"
    assert "acme-2021/art-3" not in Catalog.default().corpus
    assert len(acme.corpus) == len(Catalog.default().corpus) + 2


def test_platform_rule_citing_a_clause_file_that_was_not_passed(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text(ACME_RULESET, encoding="utf-8")
    with pytest.raises(RuleFileError) as info:
        Catalog.default().with_rules(path)
    problems = info.value.problems
    assert sorted((p.code, p.rule_id or "") for p in problems) == [
        ("unknown_clause", ""),
        ("unknown_clause", "acme.cost-list"),
        ("unknown_clause", "acme.relation"),
    ]
    parameter = next(p for p in problems if p.rule_id is None)
    assert "acme_target_cap" in parameter.message and "acme-2021/art-3" in parameter.message
    assert all(p.file == str(path) for p in problems)


def test_platform_folder_ruleset(tmp_path: Path) -> None:
    folder = tmp_path / "acme"
    folder.mkdir()
    header, _, rules = ACME_RULESET.partition("rules:\n")
    (folder / "ruleset.yaml").write_text(header, encoding="utf-8")
    (folder / "rules.yaml").write_text("rules:\n" + rules, encoding="utf-8")
    catalog = Catalog.default().with_rules(folder, clauses=[_clause_file(tmp_path)])
    assert catalog.get("acme").rule_ids == ("acme.cost-list", "acme.relation")
    assert catalog.for_date(date(2022, 6, 1)).id == "convention-2.0+acme"


def test_platform_clause_file_may_not_reuse_a_shipped_clause_id(tmp_path: Path) -> None:
    shipped = (RULES_DIR / "clauses" / "mca-2024.yaml").read_text(encoding="utf-8")
    copy = tmp_path / "mca-copy.yaml"
    copy.write_text(shipped, encoding="utf-8")
    path = tmp_path / "acme.yaml"
    path.write_text(ACME_RULESET, encoding="utf-8")
    with pytest.raises(RuleFileError) as info:
        Catalog.default().with_rules(path, clauses=[_clause_file(tmp_path), copy])
    problems = info.value.problems
    assert problems and all(p.code == "duplicate_id" for p in problems)
    assert any("mca-2024/art-1" in p.message for p in problems)
    assert all(p.file == str(copy) for p in problems)


def test_platform_clause_file_may_not_redefine_a_shipped_document(tmp_path: Path) -> None:
    # A new clause under an existing document id would silently replace that document's title and file
    # in the corpus; the shipped loader refuses a document defined twice, and so must a platform's file.
    clash = tmp_path / "mca-extra.yaml"
    text = ACME_CLAUSES.replace("acme-2021/art-", "mca-2024/acme-art-").replace("id: acme-2021", "id: mca-2024")
    assert "acme-2021" not in text
    clash.write_text(text, encoding="utf-8")
    shipped_title = Catalog.default().corpus.documents["mca-2024"]
    with pytest.raises(RuleFileError) as info:
        Catalog.default().with_rules(clauses=[clash])
    (problem,) = info.value.problems
    assert problem.code == "duplicate_id"
    assert "mca-2024" in problem.message
    assert Catalog.default().corpus.documents["mca-2024"] == shipped_title


# -- the default catalog is not changed by any of this --------------------------------------------


def test_default_catalog_is_unchanged_after_customising(tmp_path: Path) -> None:
    default = Catalog.default()
    before = {
        "digests": {r.id: r.digest for r in default},
        "parameters": {(r.id, n): (p.value, p.overridden) for r in default for n, p in r.parameters.items()},
        "by_date": {d: default.for_date(d).id for d in (date(2019, 1, 1), date(2022, 1, 1), date(2025, 1, 1))},
        "corpus": set(default.corpus),
        "overrides": dict(default.overrides),
    }
    path = tmp_path / "acme.yaml"
    path.write_text(ACME_RULESET, encoding="utf-8")
    customised = default.with_parameters({"max_target_amount": 400000, "payout_restriction_amount": 100000}).with_rules(
        path, clauses=[_clause_file(tmp_path)]
    )
    evaluate(campaign(target_amount="450000"), ruleset=customised, blacklist=BLACKLIST)
    with pytest.raises(RuleFileError):
        default.with_parameters({"nope": 1})

    assert Catalog.default() is default
    after = {
        "digests": {r.id: r.digest for r in default},
        "parameters": {(r.id, n): (p.value, p.overridden) for r in default for n, p in r.parameters.items()},
        "by_date": {d: default.for_date(d).id for d in (date(2019, 1, 1), date(2022, 1, 1), date(2025, 1, 1))},
        "corpus": set(default.corpus),
        "overrides": dict(default.overrides),
    }
    assert after == before
    assert "acme" not in default.rulesets
    decision = evaluate(campaign(target_amount="450000"), blacklist=BLACKLIST)
    assert (decision.outcome, decision.ruleset.overrides, decision.ruleset.revision) == ("approve", (), "1")
    assert decision.rule_results["cv2.cap.target"] == "pass"
    by_id = evaluate(campaign(target_amount="450000"), ruleset="convention-2.0", blacklist=BLACKLIST)
    assert by_id.ruleset == decision.ruleset
