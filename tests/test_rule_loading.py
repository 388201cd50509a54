"""Loading is checking: every kind of problem in a rule file is reported with code, file, line, rule id
and a message that says what to fix; several problems are reported at once; YAML is read safely.

Rule files are written into ``tmp_path``; expected line numbers are found in the written text itself
(``line_of``), so each assertion says *which* line of the file the problem must point at.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import compliance
from compliance.errors import RuleFileError, RuleProblem
from compliance.rules import Catalog, load_ruleset


def evaluate(*args: Any, **kwargs: Any) -> compliance.Decision:
    """These tests check the rules alone; risk scoring has its own tests (tests/test_risk_*.py)."""
    return compliance.evaluate(*args, model=None, **kwargs)


SHANGHAI_2022 = datetime(2022, 3, 1, 9, 0)


PARAMETERS = """\
parameters:
  acme_cap:
    type: money
    value: 100000
    title: {zh: 甲平台上限, en: Acme cap}
    source: {note: Acme's own cap}
"""


def header(
    ruleset_id: str = "acme",
    family: str = "acme",
    effective_from: str = "2021-01-01",
    parameters: str = PARAMETERS,
    revision: str = "1",
) -> str:
    return (
        "ruleset:\n"
        f"  id: {ruleset_id}\n"
        "  title: {zh: 甲平台规则, en: Acme platform rules}\n"
        f"  family: {family}\n"
        f"  effective_from: {effective_from}\n"
        f"  revision: {revision}\n" + parameters
    )


def rule(
    rule_id: str = "acme.cap",
    *,
    fails_when: str = "target_amount > params.acme_cap",
    applies_when: str | None = None,
    requires: list[str] | None = None,
    stages: str = "[publish]",
    cites: tuple[str, ...] = ("convention-2.0/request-cap",),
    message_zh: str = "目标金额超过甲平台上限。",
    message_en: str = "The target exceeds Acme's cap.",
    effect: str = "    effect:\n      outcome: review\n",
    extra: str = "",
) -> str:
    """One rule in block style, one key per line, so every key has its own line number."""
    text = (
        f"  - id: {rule_id}\n"
        "    title: {zh: 甲平台规则, en: An Acme rule}\n"
        f"    stages: {stages}\n"
        "    severity: medium\n"
    )
    if requires is not None:
        text += "    requires:\n" + "".join(f"      - {path}\n" for path in requires)
    if applies_when is not None:
        text += f"    applies_when: {json.dumps(applies_when, ensure_ascii=False)}\n"
    text += f"    fails_when: {json.dumps(fails_when, ensure_ascii=False)}\n"
    text += effect
    text += "    cites:\n" + "".join(f"      - {c}\n" for c in cites)
    text += (
        "    message:\n"
        f"      zh: {json.dumps(message_zh, ensure_ascii=False)}\n"
        f"      en: {json.dumps(message_en, ensure_ascii=False)}\n"
    )
    return text + extra


def single_file(*rules: str, **header_args: str) -> str:
    return header(**header_args) + "rules:\n" + "".join(rules)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the ``occurrence``-th line of ``text`` that contains ``needle``."""
    hits = [number for number, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) >= occurrence, f"{needle!r} occurs {len(hits)} times"
    return hits[occurrence - 1]


def problems_of(path: Path, **kwargs: object) -> list[RuleProblem]:
    with pytest.raises(RuleFileError) as info:
        load_ruleset(path, **kwargs)  # type: ignore[arg-type]
    problems = info.value.problems
    assert problems, "RuleFileError without problems"
    # The exception's text lists every problem, so a person reading a traceback sees them all.
    for problem in problems:
        assert str(problem) in str(info.value)
    return problems


def the_problem(path: Path, **kwargs: object) -> RuleProblem:
    problems = problems_of(path, **kwargs)
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


def load_single(tmp_path: Path, *rules: str, **header_args: str) -> tuple[Path, str]:
    text = single_file(*rules, **header_args)
    return write(tmp_path / "acme.yaml", text), text


# -- yaml -----------------------------------------------------------------------------------------


def test_invalid_yaml_is_reported_with_its_line(tmp_path: Path) -> None:
    text = single_file(rule()).replace("    severity: medium\n", "    severity: medium: high\n")
    path = write(tmp_path / "acme.yaml", text)
    problem = the_problem(path)
    assert problem.code == "yaml"
    assert problem.file == str(path)
    assert problem.line == line_of(text, "severity: medium: high")
    assert problem.rule_id is None
    assert "not valid YAML" in problem.message
    assert "mapping values are not allowed" in problem.message


def test_invalid_yaml_in_a_rule_file_of_a_folder_names_that_file(tmp_path: Path) -> None:
    folder = tmp_path / "acme"
    write(folder / "ruleset.yaml", header())
    good = write(folder / "a-good.yaml", "rules:\n" + rule("acme.good"))
    bad_text = "rules:\n" + rule("acme.bad", stages="[publish")  # unclosed flow sequence
    bad = write(folder / "b-bad.yaml", bad_text)
    problem = the_problem(folder)
    assert problem.code == "yaml"
    assert problem.file == str(bad) != str(good)
    # PyYAML notices the unclosed bracket on the line it or the next token is on.
    assert problem.line in (line_of(bad_text, "stages: [publish"), line_of(bad_text, "severity: medium"))


def test_empty_rule_file_is_a_schema_problem(tmp_path: Path) -> None:
    folder = tmp_path / "acme"
    write(folder / "ruleset.yaml", header())
    empty = write(folder / "empty.yaml", "")
    problem = the_problem(folder)
    assert (problem.code, problem.file) == ("schema", str(empty))


# -- yaml is read safely --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system",
        "!!python/object/apply:subprocess.call",
        "!!python/object/new:os.system",
    ],
)
def test_python_tags_are_rejected_and_nothing_executes(tmp_path: Path, tag: str) -> None:
    marker = tmp_path / "pwned"
    payload = ["touch " + str(marker)] if "os.system" in tag else [["touch", str(marker)]]
    text = single_file(rule()) + f"extra: {tag} {json.dumps(payload)}\n"
    path = write(tmp_path / "acme.yaml", text)
    problem = the_problem(path)
    assert problem.code == "yaml"
    assert problem.file == str(path)
    assert problem.line == line_of(text, "extra: !!python")
    assert not marker.exists()


def test_python_tag_in_a_platform_clause_file_is_rejected_and_nothing_executes(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path, _ = load_single(tmp_path, rule())
    clause_text = f"document: !!python/object/apply:os.system [{json.dumps('touch ' + str(marker))}]\n"
    clauses = write(tmp_path / "clauses.yaml", clause_text)
    problem = the_problem(path, clauses=[clauses])
    assert (problem.code, problem.file, problem.line) == ("yaml", str(clauses), 1)
    assert not marker.exists()


def test_python_name_tag_is_rejected(tmp_path: Path) -> None:
    text = single_file(rule()) + "extra: !!python/name:os.system ''\n"
    path = write(tmp_path / "acme.yaml", text)
    problem = the_problem(path)
    assert problem.code == "yaml"
    assert problem.line == line_of(text, "!!python/name")


# -- schema ---------------------------------------------------------------------------------------


def test_unknown_key_in_a_rule(tmp_path: Path) -> None:
    path, text = load_single(tmp_path, rule(extra="    colour: red\n"))
    problem = the_problem(path)
    assert problem.code == "schema"
    assert problem.file == str(path)
    assert problem.line == line_of(text, "colour: red")
    assert problem.rule_id == "acme.cap"
    assert "rules.0.colour" in problem.message
    assert "not permitted" in problem.message


def test_missing_fails_when(tmp_path: Path) -> None:
    text = single_file(rule("acme.first"), rule("acme.second"))
    second = line_of(text, "fails_when:", occurrence=2)
    lines = text.splitlines(keepends=True)
    del lines[second - 1]
    text = "".join(lines)
    path = write(tmp_path / "acme.yaml", text)
    problem = the_problem(path)
    assert problem.code == "schema"
    assert problem.rule_id == "acme.second"
    # The key is absent, so the problem points at the rule it is missing from.
    assert problem.line == line_of(text, "- id: acme.second")
    assert "rules.1.fails_when" in problem.message
    assert "required" in problem.message.lower()


def test_unknown_key_in_the_ruleset_header(tmp_path: Path) -> None:
    text = single_file(rule()).replace("  revision: 1\n", "  revision: 1\n  version: 2\n")
    path = write(tmp_path / "acme.yaml", text)
    problem = the_problem(path)
    assert problem.code == "schema"
    assert problem.rule_id is None
    assert problem.line == line_of(text, "version: 2")
    assert "ruleset.version" in problem.message


def test_bad_values_in_the_schema(tmp_path: Path) -> None:
    text = single_file(rule(stages="[launch]"), revision="0")
    path = write(tmp_path / "acme.yaml", text)
    problems = problems_of(path)
    by_loc = {p.message.split(":")[0]: p for p in problems}
    assert set(by_loc) == {"ruleset.revision", "rules.0.stages.0"}, problems
    assert by_loc["ruleset.revision"].line == line_of(text, "revision: 0")
    assert by_loc["ruleset.revision"].rule_id is None
    assert "greater than or equal to 1" in by_loc["ruleset.revision"].message
    assert by_loc["rules.0.stages.0"].line == line_of(text, "stages: [launch]")
    assert by_loc["rules.0.stages.0"].rule_id == "acme.cap"
    assert "'publish'" in by_loc["rules.0.stages.0"].message
    assert all(p.code == "schema" for p in problems)


def test_schema_problem_in_a_rule_file_of_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "acme"
    write(folder / "ruleset.yaml", header())
    text = "rules:\n" + rule("acme.one") + rule("acme.two", extra="    note: hello\n")
    path = write(folder / "rules.yaml", text)
    problem = the_problem(folder)
    assert (problem.code, problem.file, problem.rule_id) == ("schema", str(path), "acme.two")
    assert problem.line == line_of(text, "note: hello")
    assert "rules.1.note" in problem.message


# -- conditions -----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["fails_when", "applies_when"])
def test_syntax_error(tmp_path: Path, key: str) -> None:
    broken = "raised_amount >"
    args = {"fails_when": broken} if key == "fails_when" else {"applies_when": broken}
    path, text = load_single(tmp_path, rule(**args))  # type: ignore[arg-type]
    problem = the_problem(path)
    assert problem.code == "syntax"
    assert problem.file == str(path)
    assert problem.line == line_of(text, f"{key}:")
    assert problem.rule_id == "acme.cap"
    assert key in problem.message
    assert "syntax" in problem.message


@pytest.mark.parametrize(
    ("condition", "bad", "suggestion"),
    [
        ("disclosure.hous == null", "hous", "house"),
        ("initiator.real_name_verifed == true", "real_name_verifed", "real_name_verified"),
    ],
)
def test_misspelt_campaign_field_suggests_the_right_one(
    tmp_path: Path, condition: str, bad: str, suggestion: str
) -> None:
    path, text = load_single(tmp_path, rule(fails_when=condition))
    problem = the_problem(path)
    assert problem.code == "unknown_field"
    assert problem.file == str(path)
    assert problem.line == line_of(text, "fails_when:")
    assert problem.rule_id == "acme.cap"
    assert repr(bad) in problem.message
    assert f"did you mean {suggestion!r}" in problem.message


def test_misspelt_top_level_field_suggests_the_right_one(tmp_path: Path) -> None:
    path, text = load_single(tmp_path, rule(fails_when="raised_amout > 1"))
    problem = the_problem(path)
    assert problem.code == "unknown_field"
    assert problem.line == line_of(text, "fails_when:")
    assert problem.rule_id == "acme.cap"
    assert "'raised_amout'" in problem.message
    assert "did you mean 'raised_amount'" in problem.message


@pytest.mark.parametrize("symbol", ["bogus", "id_number"])
def test_unknown_top_level_symbol(tmp_path: Path, symbol: str) -> None:
    # Identity numbers are hidden from rules, so they are unknown symbols too.
    path, text = load_single(tmp_path, rule(applies_when=f"{symbol} == null", fails_when="raised_amount > 1"))
    problem = the_problem(path)
    assert problem.code == "unknown_field"
    assert problem.line == line_of(text, "applies_when:")
    assert problem.rule_id == "acme.cap"
    assert repr(symbol) in problem.message
    assert "not a campaign field" in problem.message


def test_hidden_identity_number_of_a_person_is_an_unknown_field(tmp_path: Path) -> None:
    path, _ = load_single(tmp_path, rule(fails_when='patient.id_number == "x"'))
    problem = the_problem(path)
    assert problem.code == "unknown_field"
    assert "'id_number'" in problem.message


@pytest.mark.parametrize(
    "condition",
    [
        'raised_amount >= "x"',
        "payout.amount > 1",  # payout may be null: needs requires: [payout]
        "disclosure.house > false",  # nullable: not orderable without a requirement
        "platform + 1 > 2",
    ],
)
def test_type_error(tmp_path: Path, condition: str) -> None:
    path, text = load_single(tmp_path, rule(fails_when=condition))
    problem = the_problem(path)
    assert problem.code == "type_error"
    assert problem.file == str(path)
    assert problem.line == line_of(text, "fails_when:")
    assert problem.rule_id == "acme.cap"
    assert "does not type-check" in problem.message


def test_nullable_comparison_message_says_how_to_fix(tmp_path: Path) -> None:
    path, _ = load_single(tmp_path, rule(fails_when="payout.amount > 1"))
    problem = the_problem(path)
    assert "nullable" in problem.message


def test_requires_narrows_a_nullable_value(tmp_path: Path) -> None:
    path, _ = load_single(tmp_path, rule(fails_when="payout.amount > 1", requires=["payout"], stages="[payout]"))
    ruleset = load_ruleset(path)
    (loaded,) = ruleset.rules
    assert loaded.requires == ("payout",)
    assert loaded.compiled
    base = {"campaign_id": "c", "platform": "甲", "created_at": "2022-03-01", "target_amount": 1000}
    payout = {"payee": "patient", "requested_at": "2022-04-01"}
    results = {
        amount: evaluate(
            {**base, "payout": {**payout, "amount": amount}}, stage="payout", ruleset=ruleset
        ).rule_results["acme.cap"]
        for amount in ("1.00", "1.01")
    }
    assert results == {"1.00": "pass", "1.01": "fail"}
    without = evaluate(base, stage="payout", ruleset=ruleset)
    assert without.rule_results["acme.cap"] == "not_evaluable"
    assert without.findings[0].reason == "the campaign has no payout request to check"


def test_requires_narrows_a_nested_value(tmp_path: Path) -> None:
    path, _ = load_single(tmp_path, rule(fails_when="not disclosure.house", requires=["disclosure.house"]))
    (loaded,) = load_ruleset(path).rules
    assert loaded.requires == ("disclosure.house",)


def test_applies_when_is_not_narrowed_by_requires(tmp_path: Path) -> None:
    # applies_when runs before the required values are checked, so it must still handle null.
    path, text = load_single(
        tmp_path, rule(applies_when="payout.amount > 1", fails_when="payout.amount > 2", requires=["payout"])
    )
    problem = the_problem(path)
    assert problem.code == "type_error"
    assert problem.line == line_of(text, "applies_when:")


@pytest.mark.parametrize("path_", ["payout.bogus", "disclosure.hous", "nothing", "payout.amount.cents"])
def test_unknown_requires_path(tmp_path: Path, path_: str) -> None:
    path, text = load_single(tmp_path, rule(fails_when="raised_amount > 1", requires=["payout", path_]))
    problem = the_problem(path)
    assert problem.code == "unknown_field"
    assert problem.file == str(path)
    assert problem.line == line_of(text, f"- {path_}")
    assert problem.rule_id == "acme.cap"
    assert path_ in problem.message
    assert "not a field of the campaign" in problem.message


@pytest.mark.parametrize(
    ("builtin", "condition"),
    [("now", "created_at < $now"), ("today", "created_at < $today"), ("random", "$random() > 0.5")],
)
def test_nondeterministic_builtin(tmp_path: Path, builtin: str, condition: str) -> None:
    path, text = load_single(tmp_path, rule(fails_when=condition))
    problem = the_problem(path)
    assert problem.code == "nondeterministic"
    assert problem.file == str(path)
    assert problem.line == line_of(text, "fails_when:")
    assert problem.rule_id == "acme.cap"
    assert f"${builtin}" in problem.message
    assert "$any" in problem.message and "$all" in problem.message


def test_nondeterministic_builtin_in_applies_when(tmp_path: Path) -> None:
    path, text = load_single(tmp_path, rule(applies_when="created_at < $now"))
    problem = the_problem(path)
    assert problem.code == "nondeterministic"
    assert problem.line == line_of(text, "applies_when:")


# -- parameters -----------------------------------------------------------------------------------


def test_unknown_parameter(tmp_path: Path) -> None:
    path, text = load_single(tmp_path, rule(fails_when="target_amount > params.nope"))
    problem = the_problem(path)
    assert problem.code == "unknown_parameter"
    assert problem.file == str(path)
    assert problem.line == line_of(text, "fails_when:")
    assert problem.rule_id == "acme.cap"
    assert "'nope'" in problem.message


def test_misspelt_parameter_suggests_the_right_one(tmp_path: Path) -> None:
    path, _ = load_single(tmp_path, rule(fails_when="target_amount > params.acme_cpa"))
    problem = the_problem(path)
    assert problem.code == "unknown_parameter"
    assert "'acme_cpa'" in problem.message
    assert "did you mean 'acme_cap'" in problem.message


@pytest.mark.parametrize(
    ("kind", "value", "fragment"),
    [
        ("money", "-1", "greater than or equal to 0"),
        ("money", "lots", "valid decimal"),
        ("money", "1.005", "2 decimal places"),
        ("money", '"1.005"', "2 decimal places"),
        ("money", "true", "Decimal input"),
        ("money", ".nan", ""),
        ("number", "twelve", "expected a number"),
        ("boolean", "yes please", "expected true or false"),
        ("string_list", "[a, 1]", "expected a list of strings"),
        ("disclosure_items", "[house, boat]", "'boat'"),
        ("disclosure_items", "[]", "non-empty"),
        ("disclosure_items", "[house, house]", "distinct"),
    ],
)
def test_bad_parameter_value(tmp_path: Path, kind: str, value: str, fragment: str) -> None:
    parameters = (
        "parameters:\n"
        "  acme_limit:\n"
        f"    type: {kind}\n"
        f"    value: {value}\n"
        "    title: {zh: 参数, en: A parameter}\n"
        "    source: {note: ours}\n"
    )
    path, text = load_single(tmp_path, rule(fails_when="raised_amount > 1"), parameters=parameters)
    problem = the_problem(path)
    assert problem.code == "bad_parameter"
    assert problem.file == str(path)
    assert problem.line == line_of(text, f"value: {value}")
    assert problem.rule_id is None
    assert "acme_limit" in problem.message
    assert f"({kind})" in problem.message
    assert fragment in problem.message


def test_bad_parameter_read_by_a_rule_is_reported_once_as_bad_parameter(tmp_path: Path) -> None:
    # The rule reads params.acme_cap, whose value is bad: the fix is the value, so that is the one problem
    # (not a crash, and not "unknown parameter 'acme_cap'", which exists).
    parameters = PARAMETERS.replace("value: 100000", "value: -100000")
    path, text = load_single(tmp_path, rule(fails_when="target_amount > params.acme_cap"), parameters=parameters)
    problem = the_problem(path)
    assert problem.code == "bad_parameter"
    assert problem.line == line_of(text, "value: -100000")
    assert "acme_cap" in problem.message


def test_disclosure_items_message_lists_the_known_items(tmp_path: Path) -> None:
    parameters = (
        "parameters:\n"
        "  needed:\n"
        "    type: disclosure_items\n"
        "    value: [house, boat]\n"
        "    title: {zh: 参数, en: A parameter}\n"
        "    source: {note: ours}\n"
    )
    path, _ = load_single(tmp_path, rule(fails_when="raised_amount > 1"), parameters=parameters)
    message = the_problem(path).message
    assert "'boat'" in message and "'car'" in message and "'house'" in message


def test_parameter_citing_a_missing_clause(tmp_path: Path) -> None:
    parameters = PARAMETERS.replace(
        "source: {note: Acme's own cap}", "source: {clause: acme-2021/cap, note: Acme's own cap}"
    )
    path, text = load_single(tmp_path, rule(), parameters=parameters)
    problem = the_problem(path)
    assert problem.code == "unknown_clause"
    assert problem.line == line_of(text, "value: 100000")
    assert problem.rule_id is None
    assert "acme-2021/cap" in problem.message and "acme_cap" in problem.message


# -- citations, templates, obligations ------------------------------------------------------------


def test_citation_of_a_missing_clause(tmp_path: Path) -> None:
    path, text = load_single(tmp_path, rule(cites=("convention-2.0/request-cap", "convention-2.0/no-such-clause")))
    problem = the_problem(path)
    assert problem.code == "unknown_clause"
    assert problem.file == str(path)
    assert problem.line == line_of(text, "- convention-2.0/no-such-clause")
    assert problem.rule_id == "acme.cap"
    assert "convention-2.0/no-such-clause" in problem.message
    assert "add it to a clause file or fix the id" in problem.message


def test_malformed_clause_id_is_a_schema_problem(tmp_path: Path) -> None:
    path, text = load_single(tmp_path, rule(cites=("request-cap",)))
    problem = the_problem(path)
    assert problem.code == "schema"
    assert problem.line == line_of(text, "- request-cap")
    assert problem.rule_id == "acme.cap"


@pytest.mark.parametrize("language", ["zh", "en"])
def test_message_placeholder_the_rule_does_not_read(tmp_path: Path, language: str) -> None:
    messages = {"message_zh": "目标金额 {target_amount} 元。", "message_en": "Target ¥{target_amount}."}
    messages[f"message_{language}"] += " Raised {raised_amount}."
    path, text = load_single(tmp_path, rule(**messages))  # type: ignore[arg-type]
    problem = the_problem(path)
    assert problem.code == "bad_template"
    assert problem.file == str(path)
    assert problem.line == line_of(text, f"      {language}:")
    assert problem.rule_id == "acme.cap"
    assert "{raised_amount}" in problem.message
    assert "target_amount" in problem.message and "params.acme_cap" in problem.message


def test_placeholders_the_rule_reads_are_filled(tmp_path: Path) -> None:
    path, _ = load_single(
        tmp_path,
        rule(
            requires=["disclosure.house"],
            message_zh="目标 {target_amount} 上限 {params.acme_cap} 房 {disclosure.house}",
            message_en="target {target_amount} cap {params.acme_cap}",
        ),
    )
    ruleset = load_ruleset(path)
    decision = evaluate(
        {
            "campaign_id": "c",
            "platform": "甲",
            "created_at": SHANGHAI_2022,
            "target_amount": "150000.5",
            "disclosure": {"house": False},
        },
        ruleset=ruleset,
    )
    (finding,) = decision.findings
    assert finding.message.en == "target 150,000.50 cap 100,000.00"
    assert finding.message.zh == "目标 150,000.50 上限 100,000.00 房 false"
    assert finding.values == {
        "disclosure.house": False,
        "target_amount": "150000.50",
        "params.acme_cap": "100000.00",
    }


def test_obligation_with_an_unknown_item(tmp_path: Path) -> None:
    effect = (
        "    effect:\n"
        "      outcome: approve_with_conditions\n"
        "      obligations:\n"
        "        - code: urge_disclosure\n"
        "          items: [house]\n"
        "        - code: payout_route\n"
        "          items: [hospital_account, helicopter]\n"
    )
    path, text = load_single(tmp_path, rule(effect=effect))
    problem = the_problem(path)
    assert problem.code == "bad_obligation"
    assert problem.file == str(path)
    assert problem.line == line_of(text, "items: [hospital_account, helicopter]")
    assert problem.rule_id == "acme.cap"
    assert "'helicopter'" in problem.message
    assert "payout_route" in problem.message and "batched_with_plan" in problem.message


def test_obligation_with_an_unknown_code_is_a_schema_problem(tmp_path: Path) -> None:
    effect = "    effect:\n      outcome: review\n      obligations:\n        - {code: pay_twice, items: [x]}\n"
    path, text = load_single(tmp_path, rule(effect=effect))
    problem = the_problem(path)
    assert problem.code == "schema"
    assert problem.line == line_of(text, "code: pay_twice")
    assert problem.rule_id == "acme.cap"


# -- duplicate ids --------------------------------------------------------------------------------


def test_duplicate_rule_id_within_a_file(tmp_path: Path) -> None:
    path, text = load_single(tmp_path, rule("acme.same"), rule("acme.other"), rule("acme.same"))
    problem = the_problem(path)
    assert problem.code == "duplicate_id"
    assert problem.file == str(path)
    assert problem.line == line_of(text, "- id: acme.same", occurrence=2)
    assert problem.rule_id == "acme.same"
    assert f"{path}:{line_of(text, '- id: acme.same')}" in problem.message
    assert "unique" in problem.message


def test_duplicate_rule_id_across_files_of_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "acme"
    header_text = header() + "rules:\n" + rule("acme.in-header")
    write(folder / "ruleset.yaml", header_text)
    first_text = "rules:\n" + rule("acme.shared")
    first = write(folder / "a.yaml", first_text)
    second_text = "rules:\n" + rule("acme.fine") + rule("acme.shared")
    second = write(folder / "b.yaml", second_text)
    third = write(folder / "c.yaml", "rules:\n" + rule("acme.in-header"))
    problems = problems_of(folder)
    assert len(problems) == 2, problems
    by_file = {p.file: p for p in problems}
    assert set(by_file) == {str(second), str(third)}
    shared = by_file[str(second)]
    assert (shared.code, shared.rule_id) == ("duplicate_id", "acme.shared")
    assert shared.line == line_of(second_text, "- id: acme.shared")
    assert f"{first}:2" in shared.message
    in_header = by_file[str(third)]
    assert (in_header.code, in_header.rule_id, in_header.line) == ("duplicate_id", "acme.in-header", 2)
    assert str(folder / "ruleset.yaml") in in_header.message


def test_duplicate_rule_id_across_rulesets_of_a_catalog(tmp_path: Path) -> None:
    first = write(tmp_path / "acme.yaml", single_file(rule("acme.shared")))
    second_text = single_file(rule("beta.own"), rule("acme.shared"), ruleset_id="beta", family="beta")
    second = write(tmp_path / "beta.yaml", second_text)
    with pytest.raises(RuleFileError) as info:
        Catalog.load([first, second])
    (problem,) = info.value.problems
    assert problem.code == "duplicate_id"
    assert problem.file == str(second)
    assert problem.line == line_of(second_text, "- id: acme.shared")
    assert problem.rule_id == "acme.shared"
    assert "acme" in problem.message and str(first) in problem.message
    assert "across rulesets" in problem.message


def test_platform_rule_reusing_a_shipped_rule_id(tmp_path: Path) -> None:
    text = single_file(rule("cv2.payout.payee"))
    path = write(tmp_path / "acme.yaml", text)
    with pytest.raises(RuleFileError) as info:
        Catalog.default().with_rules(path)
    (problem,) = info.value.problems
    assert (problem.code, problem.file, problem.rule_id) == ("duplicate_id", str(path), "cv2.payout.payee")
    assert problem.line == line_of(text, "- id: cv2.payout.payee")
    assert "convention-2.0" in problem.message


def test_duplicate_ruleset_id_in_a_catalog(tmp_path: Path) -> None:
    first = write(tmp_path / "one.yaml", single_file(rule("acme.one")))
    second = write(tmp_path / "two.yaml", single_file(rule("acme.two")))
    with pytest.raises(RuleFileError) as info:
        Catalog.load([first, second])
    (problem,) = info.value.problems
    assert (problem.code, problem.file) == ("duplicate_id", str(second))
    assert "acme" in problem.message


def test_platform_ruleset_reusing_a_shipped_ruleset_id_names_its_own_file(tmp_path: Path) -> None:
    fine = write(tmp_path / "fine.yaml", single_file(rule("acme.one")))
    clash = write(tmp_path / "clash.yaml", single_file(rule("acme.two"), ruleset_id="convention-2.0"))
    with pytest.raises(RuleFileError) as info:
        Catalog.default().with_rules(fine, clash)
    (problem,) = info.value.problems
    assert problem.code == "duplicate_id"
    assert "convention-2.0" in problem.message
    assert problem.file == str(clash)


# -- files ----------------------------------------------------------------------------------------


def test_folder_without_ruleset_yaml(tmp_path: Path) -> None:
    folder = tmp_path / "acme"
    write(folder / "rules.yaml", "rules:\n" + rule())
    problem = the_problem(folder)
    assert problem.code == "missing_file"
    assert problem.file == str(folder / "ruleset.yaml")
    assert problem.line is None and problem.rule_id is None
    assert "ruleset.yaml" in problem.message


def test_missing_single_file(tmp_path: Path) -> None:
    problem = the_problem(tmp_path / "nowhere.yaml")
    assert problem.code == "missing_file"
    assert problem.file == str(tmp_path / "nowhere.yaml")


# -- every problem at once ------------------------------------------------------------------------


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    parameters = PARAMETERS + (
        "  acme_floor:\n    type: money\n    value: -5\n    title: {zh: 下限, en: Floor}\n    source: {note: ours}\n"
    )
    bad_effect = (
        "    effect:\n"
        "      outcome: approve_with_conditions\n"
        "      obligations:\n"
        "        - {code: urge_disclosure, items: [yacht]}\n"
    )
    text = single_file(
        rule("acme.ok"),
        rule(
            "acme.citation-and-requires",
            fails_when="raised_amount > 1",
            requires=["payout.bogus"],
            cites=("convention-2.0/nope",),
            effect=bad_effect,
        ),
        rule("acme.types", fails_when='raised_amount >= "x"'),
        rule("acme.clock", fails_when="created_at < $now"),
        rule("acme.syntax", fails_when="raised_amount >"),
        rule("acme.template", fails_when="raised_amount > 1", message_en="¥{target_amount}"),
        rule("acme.ok"),
        rule("acme.field", fails_when="raised_amout > 1"),
        parameters=parameters,
    )
    path = write(tmp_path / "acme.yaml", text)
    problems = problems_of(path)
    found = sorted((p.code, p.rule_id, p.line) for p in problems)
    expected = sorted(
        [
            ("bad_parameter", None, line_of(text, "value: -5")),
            ("unknown_clause", "acme.citation-and-requires", line_of(text, "- convention-2.0/nope")),
            ("unknown_field", "acme.citation-and-requires", line_of(text, "- payout.bogus")),
            ("bad_obligation", "acme.citation-and-requires", line_of(text, "items: [yacht]")),
            ("type_error", "acme.types", line_of(text, '"raised_amount >= \\"x\\""')),
            ("nondeterministic", "acme.clock", line_of(text, "$now")),
            ("syntax", "acme.syntax", line_of(text, '"raised_amount >"')),
            ("bad_template", "acme.template", line_of(text, "¥{target_amount}")),
            ("duplicate_id", "acme.ok", line_of(text, "- id: acme.ok", occurrence=2)),
            ("unknown_field", "acme.field", line_of(text, "raised_amout")),
        ]
    )
    assert len(problems) == 10
    assert found == expected
    assert all(p.file == str(path) for p in problems)
    assert "(10 problems)" in str(RuleFileError(problems))


def test_every_schema_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    text = single_file(
        rule("acme.one", extra="    colour: red\n"),
        rule("acme.two", stages="[]"),
        rule("Acme.Three"),
        revision="0",
    )
    path = write(tmp_path / "acme.yaml", text)
    problems = problems_of(path)
    assert len(problems) == 4, problems
    assert all(p.code == "schema" for p in problems)
    assert sorted((p.rule_id, p.line) for p in problems if p.rule_id) == sorted(
        [
            ("acme.one", line_of(text, "colour: red")),
            ("acme.two", line_of(text, "stages: []")),
            ("Acme.Three", line_of(text, "- id: Acme.Three")),
        ]
    )


def test_problems_of_every_file_of_a_folder_are_reported_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "acme"
    write(folder / "ruleset.yaml", header())
    yaml_error = write(folder / "a.yaml", "rules: [\n")
    schema_error = write(folder / "b.yaml", "rules:\n" + rule(extra="    colour: red\n"))
    problems = problems_of(folder)
    assert sorted((p.file, p.code) for p in problems) == [
        (str(yaml_error), "yaml"),
        (str(schema_error), "schema"),
    ]


def test_problems_of_every_ruleset_in_a_catalog_are_reported_at_once(tmp_path: Path) -> None:
    first = write(tmp_path / "acme.yaml", single_file(rule(fails_when="raised_amount >")))
    second = write(
        tmp_path / "beta.yaml",
        single_file(rule("beta.one", cites=("beta/x",)), ruleset_id="beta", family="beta"),
    )
    with pytest.raises(RuleFileError) as info:
        Catalog.load([first, second])
    assert sorted((p.file, p.code) for p in info.value.problems) == [
        (str(first), "syntax"),
        (str(second), "unknown_clause"),
    ]


# -- a valid platform ruleset ---------------------------------------------------------------------


def test_valid_single_file_ruleset_loads_and_evaluates(tmp_path: Path) -> None:
    disclosure_rule = rule(
        "acme.house",
        fails_when="disclosure.house == null",
        effect="    effect:\n      outcome: approve_with_conditions\n      obligations:\n"
        "        - {code: urge_disclosure, items: [house]}\n",
        cites=("convention-2.0/house-and-car",),
        message_zh="未说明房产。",
        message_en="House not stated.",
    )
    payout_rule = rule(
        "acme.payee",
        stages="[payout]",
        requires=["payout"],
        fails_when='payout.payee != "hospital_account"',
        cites=("convention-2.0/payout-thresholds",),
        effect="    effect: {outcome: reject}\n",
        message_zh="收款人 {payout.payee}",
        message_en="payee {payout.payee}",
    )
    path, _ = load_single(
        tmp_path, rule(message_en="¥{target_amount} > ¥{params.acme_cap}"), disclosure_rule, payout_rule
    )
    ruleset = load_ruleset(path)
    assert (ruleset.id, ruleset.revision, ruleset.families) == ("acme", "1", ("acme",))
    assert ruleset.rule_ids == ("acme.cap", "acme.house", "acme.payee")
    assert ruleset.parameters["acme_cap"].value == Decimal("100000.00")
    assert [r.id for r in ruleset.rules_for("publish")] == ["acme.cap", "acme.house"]
    assert [r.id for r in ruleset.rules_for("payout")] == ["acme.payee"]
    assert all(r.compiled for r in ruleset.rules)

    campaign = {
        "campaign_id": "c1",
        "platform": "甲",
        "created_at": SHANGHAI_2022,
        "target_amount": "100000.01",
    }
    decision = evaluate(campaign, ruleset=ruleset)
    assert decision.rule_results == {"acme.cap": "fail", "acme.house": "fail"}
    assert decision.outcome == "review"
    assert decision.ruleset.id == "acme"
    assert decision.ruleset.digest == ruleset.digest
    cap = next(f for f in decision.findings if f.rule_id == "acme.cap")
    assert cap.message.en == "¥100,000.01 > ¥100,000.00"
    assert [c.clause_id for c in cap.citations] == ["convention-2.0/request-cap"]
    assert [(o.code, o.items) for o in decision.obligations] == [("urge_disclosure", ("house",))]

    fine = evaluate({**campaign, "target_amount": 100000, "disclosure": {"house": True}}, ruleset=ruleset)
    assert (fine.outcome, fine.findings) == ("approve", ())

    payout = {"amount": 10, "payee": "patient", "requested_at": "2022-04-01"}
    rejected = evaluate({**campaign, "payout": payout}, stage="payout", ruleset=ruleset)
    assert rejected.rule_results == {"acme.payee": "fail"}
    assert rejected.outcome == "reject"
    assert rejected.findings[0].message.en == "payee patient"


def test_valid_folder_ruleset_loads_rules_in_file_name_order(tmp_path: Path) -> None:
    folder = tmp_path / "acme"
    write(folder / "ruleset.yaml", header() + "rules:\n" + rule("acme.header"))
    write(folder / "b.yaml", "rules:\n" + rule("acme.b"))
    write(folder / "a.yml", "rules:\n" + rule("acme.a"))
    write(folder / "notes.txt", "not a rule file: ignored")
    ruleset = load_ruleset(folder)
    assert ruleset.rule_ids == ("acme.header", "acme.a", "acme.b")
    assert ruleset.rules[1].location == f"{folder / 'a.yml'}:2"


def test_loading_the_same_files_twice_gives_the_same_digest(tmp_path: Path) -> None:
    path, _ = load_single(tmp_path, rule())
    assert load_ruleset(path).digest == load_ruleset(path).digest
    changed = write(tmp_path / "changed.yaml", single_file(rule(fails_when="target_amount >= params.acme_cap")))
    assert load_ruleset(changed).digest != load_ruleset(path).digest
