"""Damaged and hostile files end as the library's own errors, short, naming the file and the record or line.

Each test here failed before the limits were added (issue 11): a truncated ``.csv.gz`` raised ``EOFError``,
a deep JSON Lines record ``RecursionError``, a YAML alias bomb gave an error hundreds of kilobytes long.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from compliance import _yaml
from compliance.batch._mapping import Mapping
from compliance.batch._readers import MAX_JSON_DEPTH, read_export
from compliance.errors import ExportError, MappingError, RuleFileError
from compliance.rules._catalog import load_ruleset
from tests.builders import rule_yaml

RAW_ID = "110101199003074578"  # a made-up identity number: it must never appear in a message


def _rows(path: Path, **options: object) -> int:
    return sum(len(chunk.frame) for chunk in read_export(path, **options))  # type: ignore[arg-type]


# -- exports --------------------------------------------------------------------------------------


def _csv(rows: int, platform: str = "水滴筹") -> bytes:
    return ("campaign_id,platform\n" + "".join(f"c{i},{platform}\n" for i in range(rows))).encode()


@pytest.mark.parametrize("platform", ["水滴筹", "ascii"])  # ascii: encoding detection reads to the damage
def test_a_truncated_csv_gz_is_an_export_error_naming_the_file_and_how_far_it_got(
    tmp_path: Path, platform: str
) -> None:
    whole = gzip.compress(_csv(200_000, platform))  # more than one block of text before the cut
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ExportError, match=r"cut\.csv\.gz: cannot be read after [\d,]+ bytes .*cut short") as caught:
        _rows(path, chunk_rows=1000)
    assert "records 1 to " in str(caught.value)  # the chunks before the damage were delivered


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:10] + bytes(b ^ 0x5A for b in data[10:60]) + data[60:],  # corrupt deflate data
        lambda data: data[:-4] + b"\0\0\0\0",  # wrong length in the trailer
        lambda data: b"not gzip at all" * 10,
        lambda data: data + b"trailing garbage",
    ],
)
def test_damaged_gzip_streams_are_export_errors(tmp_path: Path, damage: object) -> None:
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(damage(gzip.compress(b'{"campaign_id": "a"}\n' * 100)))  # type: ignore[operator]
    with pytest.raises(ExportError, match=r"bad\.jsonl\.gz: cannot be read"):
        _rows(path)


def test_a_json_record_nested_100000_deep_is_that_records_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.jsonl"
    deep = '{"a": ' * 100_000 + "1" + "}" * 100_000
    path.write_text('{"campaign_id": "a"}\n' + deep + '\n{"campaign_id": "b"}\n', encoding="utf-8")
    chunks = list(read_export(path))
    assert sum(len(c.frame) for c in chunks) == 3
    assert chunks[0].read_errors == {2: f"record 2: nested more than {MAX_JSON_DEPTH} levels deep"}
    assert chunks[0].frame.loc[3, "campaign_id"] == "b"


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 900])
def test_json_records_nested_past_the_limit_in_objects_or_lists_are_refused(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "deep.jsonl"
    objects = '{"a": ' * depth + "1" + "}" * depth
    lists = '{"a": ' + "[" * depth + "]" * depth + "}"
    path.write_text(objects + "\n" + lists + "\n", encoding="utf-8")
    (chunk,) = read_export(path, mapping=None)
    assert set(chunk.read_errors) == {1, 2}


def test_a_parquet_batch_pandas_cannot_hold_keeps_its_rows_as_read_errors(tmp_path: Path) -> None:
    path = tmp_path / "far.parquet"
    far = pa.array([253_402_300_799_000_000] * 3, pa.timestamp("us"))  # 9999-12-31: beyond pandas' ns range
    pq.write_table(pa.table({"campaign_id": ["a", "b", "c"], "created_at": far}), path)
    chunks = list(read_export(path))
    assert sum(len(c.frame) for c in chunks) == 3
    if chunks[0].read_errors:  # pandas before 3 holds nanoseconds, so the time cannot be held
        assert chunks[0].read_errors[1].startswith("record 1: its values cannot be converted")
    else:  # pandas 3 keeps microseconds and reads the time as it is
        assert chunks[0].frame["created_at"].notna().all()


def test_bad_parquet_bytes_are_an_export_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"campaign_id": [f"c{i}" for i in range(1000)]}), path)
    data = bytearray(path.read_bytes())
    data[200:400] = bytes(200)  # inside the column data
    path.write_bytes(bytes(data))
    try:
        rows = _rows(path)
    except ExportError as error:
        assert "bad.parquet" in str(error)
    else:
        assert rows == 1000


# -- YAML: mapping, rule and clause files ---------------------------------------------------------

BOMB = """\
format: compliance-mapping/1
name: bomb
a: &a [x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
columns: {*c : campaign_id}
"""


def test_a_yaml_alias_is_refused_in_a_mapping_file_with_a_short_error(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB, encoding="utf-8")
    with pytest.raises(MappingError) as caught:
        Mapping.load(path)
    (problem,) = caught.value.problems
    assert (problem.line, problem.code) == (4, "yaml-limit")
    assert "aliases" in problem.message and len(str(caught.value)) < 300


@pytest.mark.parametrize("depth", [_yaml.MAX_DEPTH + 1, 500, 100_000])
def test_yaml_nested_past_the_limit_is_refused_with_its_line(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("format: compliance-mapping/1\nname: x\nvalues:\n  " + "[" * depth + "]" * depth + "\n")
    with pytest.raises(MappingError) as caught:
        Mapping.load(path)
    (problem,) = caught.value.problems
    assert problem.line == 4 and len(problem.message) < 200
    if depth < 1000:  # deeper, libyaml's own limit (1,000) answers first
        assert problem.code == "yaml-limit" and f"more than {_yaml.MAX_DEPTH} levels" in problem.message


def test_a_yaml_file_over_the_size_limit_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("format: compliance-mapping/1\nname: x\ndescription: " + "x" * _yaml.MAX_BYTES + "\n")
    with pytest.raises(MappingError, match="files of at most 1,048,576 bytes are read") as caught:
        Mapping.load(path)
    assert [p.code for p in caught.value.problems] == ["yaml-limit"]


def test_long_values_are_cut_in_mapping_errors_and_identity_numbers_never_quoted_whole(tmp_path: Path) -> None:
    path = tmp_path / "long.yaml"
    long_name = RAW_ID + "x" * 100_000
    path.write_text(
        f"format: compliance-mapping/1\nname: x\ncolumns:\n  a: {long_name}\n  b: {long_name}\n"
        f"constants:\n  {RAW_ID}: 1\nparse:\n  money: {long_name}\n",
        encoding="utf-8",
    )
    with pytest.raises(MappingError) as caught:
        Mapping.load(path)
    assert len(str(caught.value)) < 2_000
    assert RAW_ID not in str(caught.value)


def test_a_yaml_timestamp_that_is_no_date_is_a_problem_not_a_value_error(tmp_path: Path) -> None:
    path = tmp_path / "date.yaml"
    path.write_text("format: compliance-mapping/1\nname: x\nconstants:\n  created_at: 2025-13-45\n")
    with pytest.raises(MappingError, match=r"not valid YAML: month must be in 1\.\.12"):
        Mapping.load(path)


def test_a_rule_file_with_an_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("ruleset: &r {id: x}\nrules: [*r]\n", encoding="utf-8")
    with pytest.raises(RuleFileError) as caught:
        load_ruleset(path)
    assert [p.code for p in caught.value.problems] == ["yaml-limit"]


def test_the_safe_loader_builds_no_python_objects() -> None:
    import yaml

    with pytest.raises(yaml.YAMLError):
        _yaml.load_text("!!python/object/apply:os.system ['true']")
    assert _yaml.load_text("a: &x 1\nb: 2") == {"a": 1, "b": 2}  # an anchor without an alias is harmless


def test_json_dumps_of_the_error_stays_small(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps({"campaign_id": RAW_ID * 10}) + "\n" + "[" * 50_000 + "\n")
    (chunk,) = read_export(path)
    assert RAW_ID not in json.dumps(chunk.read_errors)


# -- rule files: nesting, regular expressions, size --------------------------------------------------

RULESET_HEADER = """\
ruleset:
  id: hostile
  title: {zh: 测试, en: Test}
  family: hostile
  effective_from: 2021-01-01
  revision: 1
rules:
"""


def _rule(rule_id: str, fails_when: str) -> str:
    requires = "[medical.diagnosis]" if fails_when.startswith("medical.diagnosis =~") else "[]"
    return rule_yaml(rule_id, fails_when, requires)


def _load(tmp_path: Path, *conditions: str) -> object:
    path = tmp_path / "hostile.yaml"
    path.write_text(RULESET_HEADER + "".join(_rule(f"h.r{i}", c) for i, c in enumerate(conditions)), encoding="utf-8")
    return load_ruleset(path)


@pytest.mark.parametrize(
    "condition",
    [
        "not " * 500 + "disclosure.house",
        " and ".join(["payout"] * 300),
        "payout ? " * 200 + "true" + " : false" * 200,
        "$any(" * 200 + "[disclosure.house]" + ")" * 200,
    ],
    ids=["not", "and", "ternary", "any"],
)
def test_a_condition_nested_hundreds_deep_is_a_rule_file_error_with_line_and_rule(
    tmp_path: Path, condition: str
) -> None:
    from compliance.rules._parse import MAX_DEPTH

    with pytest.raises(RuleFileError) as caught:
        _load(tmp_path, "disclosure.house == null", condition)
    (problem,) = caught.value.problems
    assert (problem.rule_id, problem.code, problem.line) == ("h.r1", "limit", 22)  # the line of its fails_when
    assert f"at most {MAX_DEPTH} are allowed" in problem.message


def test_the_shipped_rules_are_well_inside_the_nesting_limit() -> None:
    from compliance.rules import Catalog
    from compliance.rules._parse import MAX_CONDITION_CHARS, MAX_DEPTH, MAX_WORK, _depth, _phase_one, _work

    deepest = 0
    for ruleset in Catalog.default():
        for rule in ruleset.rules:
            for text in filter(None, (rule.applies_when, rule.fails_when)):
                assert len(text) < MAX_CONDITION_CHARS // 4
                deepest = max(deepest, _depth(_phase_one(text, rule.fails.context)))
    assert deepest <= MAX_DEPTH // 3  # 9, counting the statement itself
    work = max(
        _work(_phase_one(t, None)) for r in Catalog.default().rulesets["convention-2.0"].rules for t in [r.fails_when]
    )
    assert work < MAX_WORK // 100


def test_comprehensions_over_long_lists_are_refused_at_load_not_unrolled(tmp_path: Path) -> None:

    items = "[" + ", ".join(str(i) for i in range(200)) + "]"  # 8 million evaluations a campaign, in 2,600 characters
    bomb = f"$any([$any([$any([raised_amount > c for c in {items}]) for b in {items}]) for a in {items}])"
    with pytest.raises(RuleFileError) as caught:  # unrolled, it would take minutes: refused before compiling
        _load(tmp_path, bomb)
    (problem,) = caught.value.problems
    assert problem.code == "limit" and "evaluations; at most 20,000 are allowed" in problem.message


def test_a_long_parameter_list_unrolled_past_the_limit_is_refused(tmp_path: Path) -> None:
    names = json.dumps([f"item{i}" for i in range(150)])
    header = RULESET_HEADER.replace(
        "rules:\n",
        "parameters:\n  names:\n    type: string_list\n"
        f"    value: {names}\n    title: {{zh: 名单, en: Names}}\n    source: {{note: test}}\nrules:\n",
    )
    condition = "$any([$any([platform == b for b in params.names]) for a in params.names])"
    path = tmp_path / "params.yaml"
    path.write_text(header + _rule("h.p", condition), encoding="utf-8")
    with pytest.raises(RuleFileError) as caught:
        load_ruleset(path)
    (problem,) = caught.value.problems
    assert problem.code == "limit" and "unroll to more than 20,000 members" in problem.message


EVIL = "medical.diagnosis =~ '(a+)+$'"


def _campaigns(diagnoses: list[str | None]) -> list[dict[str, object]]:
    return [
        {
            "campaign_id": f"c{i}",
            "platform": "水滴筹",
            "created_at": "2022-01-01 09:00",
            "target_amount": 100,
            "raised_amount": 0,
            "medical": {"diagnosis": d},
        }
        for i, d in enumerate(diagnoses)
    ]


def test_a_backtracking_pattern_runs_in_linear_time_in_every_path(tmp_path: Path) -> None:

    import pandas as pd

    from compliance import Campaign, evaluate, evaluate_frame
    from compliance._flat import flatten
    from compliance.blacklist import UNCHECKED
    from compliance.rules._schema import Facts

    ruleset = _load(tmp_path, EVIL, "(medical.diagnosis ?? '') !~~ '(a|a)+b'")
    rules = ruleset.rules  # type: ignore[attr-defined]
    assert all(rule.compiled for rule in rules)
    # a backtracking engine (Python's re) would not finish the 41-character text: 2^41 steps, more than 4 s at 26
    texts = ["a" * 41 + "!", "a" * 5_000 + "!", "aaa", "", None]
    for data in _campaigns(texts):
        campaign = Campaign.parse(data)
        facts = Facts(campaign, "publish", UNCHECKED, campaign.disclosure.__dict__)
        for rule in rules:
            assert rule.status(facts) == rule.reference_status(facts)  # compiled and rule-engine's own
        evaluate(campaign, ruleset=ruleset, model=None)  # type: ignore[arg-type]
    frame = pd.DataFrame([flatten(Campaign.parse(d)) for d in _campaigns(texts * 20)])
    decisions = evaluate_frame(frame, ruleset=ruleset, model=None)  # type: ignore[arg-type]
    # the column compiler ran them (a fallback would warn, an error under this suite's filterwarnings), and agrees
    for i, data in enumerate(_campaigns(texts)):
        decision = evaluate(Campaign.parse(data), ruleset=ruleset, model=None)  # type: ignore[arg-type]
        failed = sorted(r for r, status in decision.rule_results.items() if status == "fail")
        assert (decisions["outcome"].iloc[i], decisions["failed_rules"].iloc[i] or "") == (
            decision.outcome,
            ";".join(failed),
        )


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=a)b", "(?<!x)y", "[unclosed"])
def test_a_pattern_re2_cannot_run_is_refused_at_load(tmp_path: Path, pattern: str) -> None:
    with pytest.raises(RuleFileError) as caught:
        _load(tmp_path, f"medical.diagnosis =~ {json.dumps(pattern)}")
    (problem,) = caught.value.problems
    assert problem.code in ("regex", "syntax") and problem.rule_id == "h.r0"


def test_a_constant_backtracking_match_is_not_run_by_pythons_re_at_load(tmp_path: Path) -> None:

    # folding this constant with Python's re would not finish (2^41 steps); with RE2 it loads, and folds to false
    ruleset = _load(tmp_path, "medical.diagnosis == null and '" + "a" * 41 + "!' =~ '(a+)+$'")
    assert all(rule.compiled for rule in ruleset.rules)  # type: ignore[attr-defined]


def test_conditions_at_the_nesting_limit_load_and_run_in_every_path(tmp_path: Path) -> None:
    import pandas as pd

    from compliance import Campaign, evaluate, evaluate_frame
    from compliance._flat import flatten
    from compliance.rules._parse import MAX_DEPTH, _depth, _phase_one

    shapes = [
        lambda k: "not " * k + "(medical.diagnosis == null)",
        lambda k: " or ".join(["medical.diagnosis == 'x'"] * k),
        lambda k: "$any([" * k + "(medical.diagnosis ?? '') =~ 'a'" + "])" * k,
    ]
    conditions = []
    for shape in shapes:  # each as deep as the limit allows
        k = MAX_DEPTH
        while _depth(_phase_one(shape(k), None)) > MAX_DEPTH:
            k -= 1
        assert _depth(_phase_one(shape(k), None)) >= MAX_DEPTH - 1
        conditions.append(shape(k))
    ruleset = _load(tmp_path, *conditions)
    campaigns = [Campaign.parse(d) for d in _campaigns(["a", None, "b"])]
    single = [evaluate(c, ruleset=ruleset, model=None).rule_results for c in campaigns]  # type: ignore[arg-type]
    frame = evaluate_frame(pd.DataFrame([flatten(c) for c in campaigns]), ruleset=ruleset, model=None)  # type: ignore[arg-type]
    assert len(frame) == 3
    for row, results in enumerate(single):  # the column compiler agrees with the single-campaign path on every row
        failed = ";".join(sorted(r for r, status in results.items() if status == "fail"))
        assert (frame["failed_rules"].iloc[row] or "") == failed


def test_a_ruleset_over_the_rule_count_limit_is_refused_before_compiling(tmp_path: Path) -> None:

    from compliance.rules._loading import MAX_RULES

    path = tmp_path / "many.yaml"
    rules = "".join(_rule(f"h.r{i}", f"raised_amount > {i}") for i in range(MAX_RULES + 1))
    path.write_text(RULESET_HEADER + rules, encoding="utf-8")
    with pytest.raises(RuleFileError) as caught:
        load_ruleset(path)
    (problem,) = caught.value.problems
    assert problem.code == "limit" and f"at most {MAX_RULES:,} are loaded" in problem.message


def test_a_rule_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(RULESET_HEADER + "# " + "x" * _yaml.MAX_BYTES + "\n", encoding="utf-8")
    with pytest.raises(RuleFileError, match="at most 1,048,576 bytes"):
        load_ruleset(path)


def test_a_file_with_thousands_of_problems_lists_fifty_in_its_message(tmp_path: Path) -> None:
    from compliance.errors import LISTED_PROBLEMS

    path = tmp_path / "many.yaml"
    columns = "".join(f"  c{i}: not.a.column{i}\n" for i in range(2_000))
    path.write_text(f"format: compliance-mapping/1\nname: x\ncolumns:\n{columns}", encoding="utf-8")
    with pytest.raises(MappingError) as caught:
        Mapping.load(path)
    assert len(caught.value.problems) == 2_000
    assert str(caught.value).count("\n  - ") == LISTED_PROBLEMS + 1
    assert str(caught.value).endswith(f"and {2_000 - LISTED_PROBLEMS} more (all are in .problems)")


def test_a_clause_file_with_an_alias_is_refused(tmp_path: Path) -> None:
    from compliance.rules._corpus import load_corpus

    path = tmp_path / "clauses.yaml"
    path.write_text("document: &d {id: x}\nclauses: [*d]\n", encoding="utf-8")
    with pytest.raises(RuleFileError) as caught:
        load_corpus([path])
    assert [(p.line, p.code) for p in caught.value.problems] == [(2, "yaml-limit")]


def test_the_column_compiler_matches_each_spelling_of_an_encoded_column_as_rule_engine_does() -> None:
    import numpy as np

    from compliance.rules._columns import Vec, compile_vector, truthy
    from compliance.rules._parse import parse

    texts = ["水滴筹", "aaa", None, "b水滴", "a" * 41 + "!", "水滴筹"]
    spellings = {"水滴筹": 0, "aaa": 1, "b水滴": 2, "a" * 41 + "!": 3}
    codes = np.asarray([-1 if t is None else spellings[t] for t in texts])
    null = np.asarray([t is None for t in texts])

    class Columns:
        n = len(texts)

        def __init__(self, encoded: bool) -> None:
            self.encoded = encoded

        def get(self, path: str) -> Vec:
            values = np.asarray(texts, dtype=object)
            if self.encoded:
                return Vec("str", values, null, codes=codes, spellings=spellings)
            return Vec("str", values, null)

    for text in ["platform =~ '^水滴'", "platform =~~ '水滴'", "platform !~ '(a+)+$'", "platform !~~ 'a{3}'"]:
        rule = parse(text)
        expected = [bool(rule.evaluate({"platform": t})) for t in texts]
        for encoded in (True, False):
            truth, err = truthy(
                compile_vector(rule.statement.expression, None, "publish")(Columns(encoded)), len(texts)
            )
            assert list(truth) == expected and err is None, (text, encoded)


def test_a_gzipped_export_still_says_how_far_reading_has_got(tmp_path: Path) -> None:
    path = tmp_path / "big.csv.gz"
    path.write_bytes(gzip.compress(_csv(300_000)))
    progress = [chunk.bytes_read for chunk in read_export(path, chunk_rows=100_000)]
    assert len(progress) == 3 and all(isinstance(p, int) for p in progress)
    assert progress == sorted(progress) and progress[-1] <= path.stat().st_size  # type: ignore[type-var,operator]


def test_a_file_error_never_quotes_an_identity_number_a_parser_read() -> None:
    from compliance._yaml import load_text

    # a tagged value the constructor cannot read: PyYAML's message quotes it
    with pytest.raises(yaml.YAMLError) as caught:
        load_text("a: !!int 11010119900307457X\n")
    from compliance._yaml import shorten

    assert "11010119900307457" not in shorten(caught.value)
