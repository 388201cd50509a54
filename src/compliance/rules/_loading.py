"""How a ruleset loads, and loading is checking.

A ruleset is a folder: ``ruleset.yaml`` (id, family, effective date, revision, parameters) and rule
files. Loading validates every file against its schema, compiles every condition with rule-engine
against the typed Campaign view, checks citations, parameters and message placeholders, and reports
every problem of every file at once (:class:`~compliance.RuleFileError`). Nothing a rule file says is ever
``eval``-ed: the one generated function (:func:`~compliance.rules._semantics.statuses_function`) is written
from fixed templates, with every check passed through its namespace.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compliance._labels import OBLIGATION_ITEMS, obligation_message
from compliance._yaml import YamlDocument, read_yaml, validate, yaml_files
from compliance.decision import Obligation
from compliance.errors import RuleProblem
from compliance.rules import _closures as closures
from compliance.rules._closures import CompiledCondition
from compliance.rules._corpus import Corpus
from compliance.rules._files import ParameterSpec, RuleFile, RulesetFile, RuleSpec
from compliance.rules._parameters import _STAND_IN, Parameter, parameter_value
from compliance.rules._parse import Condition, ConditionError, ConditionLimit, parse_condition
from compliance.rules._rule import PLACEHOLDER, Rule, _json_value
from compliance.rules._ruleset import Ruleset, sha256_hex
from compliance.rules._schema import known_path, make_context, parameters_type

MAX_RULES = 1_000
"""The most rules one ruleset may have (the shipped ones have under 30); 1,000 load in about a second.
Each file is also at most :data:`compliance._yaml.MAX_BYTES`, each condition within the limits of
:mod:`compliance.rules._parse`."""


@dataclass(frozen=True, slots=True)
class RulesetFiles:
    """A ruleset as read from disk, before compilation (kept so parameters can be overridden)."""

    meta: Any
    parameters: dict[str, ParameterSpec]
    rules: tuple[tuple[RuleSpec, YamlDocument, tuple[int | str, ...]], ...]
    header: YamlDocument


def read_ruleset_files(path: Path, problems: list[RuleProblem]) -> RulesetFiles | None:
    """Read a ruleset folder (``ruleset.yaml`` + rule files) or a single self-contained file."""
    header_path = path / "ruleset.yaml" if path.is_dir() else path
    if not header_path.exists():
        problems.append(RuleProblem(str(header_path), None, None, "missing_file", "a ruleset needs ruleset.yaml"))
        return None
    header = read_yaml(header_path, problems)
    parsed = None if header is None else validate(RulesetFile, header, problems)
    if parsed is None or header is None:
        return None
    located = [(spec, header, ("rules", i)) for i, spec in enumerate(parsed.rules)]
    if path.is_dir():
        for rule_path in yaml_files(path):
            if rule_path.name == "ruleset.yaml":
                continue
            doc = read_yaml(rule_path, problems)
            rule_file = None if doc is None else validate(RuleFile, doc, problems)
            if rule_file is not None and doc is not None:
                located += [(spec, doc, ("rules", i)) for i, spec in enumerate(rule_file.rules)]
            if len(located) > MAX_RULES:
                break
    if len(located) > MAX_RULES:
        message = f"more than {MAX_RULES:,} rules in one ruleset; at most {MAX_RULES:,} are loaded"
        problems.append(RuleProblem(str(path), None, None, "limit", message))
        return None
    return RulesetFiles(parsed.ruleset, dict(parsed.parameters), tuple(located), header)


def build_ruleset(
    source: RulesetFiles, corpus: Corpus, overrides: Mapping[str, Any], problems: list[RuleProblem]
) -> Ruleset | None:
    """The ruleset ``source`` describes, compiled and checked, or None when any problem was found (appended)."""
    meta = source.meta
    parameters = _parameters(source, corpus, overrides, problems)
    # A parameter whose value is bad keeps its declared type (with a stand-in value), so the rules that
    # read it are checked too, and are not also reported as reading an unknown parameter.
    values = {
        name: parameters[name].value if name in parameters else _STAND_IN[spec.type]
        for name, spec in source.parameters.items()
    }
    params_obj = types.SimpleNamespace(**values)
    params_type = parameters_type(values)
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for spec, doc, loc in source.rules:
        where = f"{doc.path}:{doc.line_of(loc)}"
        if spec.id in seen:
            problems.append(
                RuleProblem(
                    str(doc.path),
                    doc.line_of((*loc, "id")),
                    spec.id,
                    "duplicate_id",
                    f"rule id {spec.id} is already used at {seen[spec.id]}; ids must be unique",
                )
            )
            continue
        seen[spec.id] = where
        rule = _compile_rule(spec, doc, loc, meta.id, corpus, params_obj, params_type, problems)
        if rule is not None:
            rules.append(rule)
    if problems:
        return None
    return Ruleset(
        id=meta.id,
        title=meta.title,
        families=(meta.family,),
        effective_from=meta.effective_from,
        revision=str(meta.revision) + ("+custom" if overrides else ""),
        rules=tuple(rules),
        parameters=parameters,
        digest=_digest(source, parameters, corpus),
    )


def _parameters(
    source: RulesetFiles, corpus: Corpus, overrides: Mapping[str, Any], problems: list[RuleProblem]
) -> dict[str, Parameter]:
    out = {}
    for name, spec in source.parameters.items():
        line = source.header.line_of(("parameters", name, "value"))
        if spec.source.clause is not None and spec.source.clause not in corpus:
            problems.append(
                RuleProblem(
                    str(source.header.path),
                    line,
                    None,
                    "unknown_clause",
                    f"parameter {name} cites clause {spec.source.clause}, which is not in the corpus",
                )
            )
        overridden = name in overrides
        raw = overrides[name] if overridden else spec.value
        try:
            value = parameter_value(spec.type, raw)
        except ValueError as error:
            what = "override of parameter" if overridden else "parameter"
            problems.append(
                RuleProblem(
                    str(source.header.path), line, None, "bad_parameter", f"{what} {name} ({spec.type}): {error}"
                )
            )
            continue
        out[name] = Parameter(name, spec.type, value, spec.title, spec.source.clause, spec.source.note, overridden)
    return out


def _compile_rule(
    spec: RuleSpec,
    doc: YamlDocument,
    loc: tuple[int | str, ...],
    ruleset_id: str,
    corpus: Corpus,
    params_obj: Any,
    params_type: Any,
    problems: list[RuleProblem],
) -> Rule | None:
    before = len(problems)

    def problem(key: tuple[int | str, ...], code: str, message: str) -> None:
        problems.append(RuleProblem(str(doc.path), doc.line_of((*loc, *key)), spec.id, code, message))

    for index, clause_id in enumerate(spec.cites):
        if clause_id not in corpus:
            problem(
                ("cites", index),
                "unknown_clause",
                f"cites clause {clause_id}, which is not in the corpus; add it to a clause file or fix the id",
            )
    requires = []
    for index, path in enumerate(spec.requires):
        if known_path(path):
            requires.append(path)
        else:
            problem(("requires", index), "unknown_field", f"requires {path}, which is not a field of the campaign")
    for index, obligation in enumerate(spec.effect.obligations):
        unknown = [i for i in obligation.items if i not in OBLIGATION_ITEMS[obligation.code]]
        if unknown:
            problem(
                ("effect", "obligations", index, "items"),
                "bad_obligation",
                f"{obligation.code} has unknown item(s) {unknown}; known: {list(OBLIGATION_ITEMS[obligation.code])}",
            )
    # applies_when runs before the required values are checked, so it sees the schema's own nullability;
    # fails_when runs after, so the required values are known not to be null there.
    applies = _condition(spec.applies_when, "applies_when", (params_type, (), params_obj), params_obj, problem)
    fails = _condition(spec.fails_when, "fails_when", (params_type, requires, params_obj), params_obj, problem)
    if fails is None or (spec.applies_when is not None and applies is None):
        return None
    reads = tuple(dict.fromkeys((*requires, *(applies[1].reads if applies else ()), *fails[1].reads)))
    for key in ("zh", "en"):
        for name in PLACEHOLDER.findall(getattr(spec.message, key)):
            if name not in reads:
                problem(
                    ("message", key),
                    "bad_template",
                    f"message placeholder {{{name}}} is not a value the rule reads; it reads: {list(reads)}",
                )
    if len(problems) > before:
        return None
    citations = tuple(corpus[c] for c in spec.cites)
    obligations = {
        when: tuple(
            Obligation(
                code=o.code, items=tuple(o.items), rule_id=spec.id, message=obligation_message(o.code, tuple(o.items))
            )
            for o in spec.effect.obligations
            if o.when == when
        )
        for when in ("fail", "applicable")
    }
    rule = Rule(
        id=spec.id,
        ruleset_id=ruleset_id,
        title=spec.title,
        stages=frozenset(spec.stages),
        severity=spec.severity,
        outcome=spec.effect.outcome,
        requires=tuple(requires),
        applies_when=spec.applies_when,
        fails_when=spec.fails_when,
        citations=citations,
        message=spec.message,
        obligations_on_fail=obligations["fail"],
        obligations_when_applicable=obligations["applicable"],
        location=f"{doc.path}:{doc.line_of(loc)}",
        applies=applies[0] if applies else None,
        fails=fails[0],
        params=params_obj,
        reads=reads,
    )
    closures.attach(rule, applies[1] if applies else None, fails[1])
    return rule


def _condition(
    text: str | None,
    key: str,
    context_args: tuple[Any, ...],
    params_obj: Any,
    problem: Callable[[tuple[int | str, ...], str, str], None],
) -> tuple[Condition, CompiledCondition] | None:
    """``text`` checked and compiled for one campaign; None, with a problem recorded, where it cannot be."""
    if text is None:
        return None
    try:
        condition = parse_condition(text, make_context(*context_args), key)
        return condition, closures.compile_condition(condition, params_obj)
    except ConditionError as error:
        problem((key,), error.code, error.message)
    except ConditionLimit as error:  # a comprehension unrolled past the limit
        problem((key,), "limit", f"{key}: {error}")
    return None


def _digest(source: RulesetFiles, parameters: Mapping[str, Parameter], corpus: Corpus) -> str:
    cited = sorted({c for spec, _doc, _loc in source.rules for c in spec.cites})
    payload = {
        "ruleset": source.meta.model_dump(mode="json"),
        "parameters": {n: [p.type, _json_value(p.value)] for n, p in sorted(parameters.items())},
        "rules": [spec.model_dump(mode="json") for spec, _doc, _loc in source.rules],
        "clauses": {c: corpus[c].model_dump(mode="json") for c in cited if c in corpus},
    }
    return sha256_hex(payload)


def read_rulesets(paths: list[Path], problems: list[RuleProblem]) -> dict[str, RulesetFiles]:
    """Read rulesets; problems are appended, and what could be read is returned so it is checked too."""
    sources: dict[str, RulesetFiles] = {}
    for path in paths:
        source = read_ruleset_files(path, problems)
        if source is None:
            continue
        if source.meta.id in sources:
            problems.append(
                RuleProblem(str(path), None, None, "duplicate_id", f"ruleset {source.meta.id} appears twice")
            )
            continue
        sources[source.meta.id] = source
    return sources


def check_unique_rule_ids(rulesets: Iterable[Ruleset], problems: list[RuleProblem]) -> None:
    """Append a problem for each rule id used by two rulesets (a decision names rules by id alone)."""
    seen: dict[str, Rule] = {}
    for ruleset in rulesets:
        for rule in ruleset.rules:
            other = seen.get(rule.id)
            if other is not None and other.ruleset_id != ruleset.id:
                path, _, line = rule.location.rpartition(":")
                problems.append(
                    RuleProblem(
                        path,
                        int(line) if line.isdigit() else None,
                        rule.id,
                        "duplicate_id",
                        f"rule id {rule.id} is also used by ruleset {other.ruleset_id} "
                        f"({other.location}); rule ids must be unique across rulesets",
                    )
                )
            seen.setdefault(rule.id, rule)
