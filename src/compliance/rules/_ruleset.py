"""How rulesets load (loading is checking), what a compiled rule is, and which rules are in force when.

A ruleset is a folder: ``ruleset.yaml`` (id, family, effective date, revision, parameters) and rule
files. Loading validates every file against its schema, compiles every condition with rule-engine
against the typed Campaign view, checks citations, parameters and message placeholders, and reports
every problem of every file at once (:class:`~compliance.RuleFileError`). Nothing is ever ``eval``-ed.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import operator
import re
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cached_property
from pathlib import Path
from typing import Any

import rule_engine
from pydantic import BaseModel, ValidationError

from compliance._vocabulary import OBLIGATION_ITEMS, obligation_message
from compliance._yaml import YamlDocument, quote, read_yaml, shorten, validate, yaml_files
from compliance.campaign import DISCLOSURE_ITEMS, MONEY, SHANGHAI
from compliance.decision import Citation, Obligation, RulesetRef, Text
from compliance.errors import RuleFileError, RuleProblem, RulesetNotFound
from compliance.rules._compile import ALLOWED_BUILTINS, CompiledCondition, builtins_used, compile_condition
from compliance.rules._corpus import Corpus, load_corpus
from compliance.rules._files import ParameterSpec, RuleFile, RulesetFile, RuleSpec
from compliance.rules._parse import ConditionLimit, parse
from compliance.rules._schema import EXTRA_SYMBOLS, Facts, known_path, make_context, parameters_type

RULES_DIR = Path(__file__).parent
SHIPPED_RULESETS = ("convention-1.0", "convention-2.0", "charity-law-2024")
MAX_RULES = 1_000
"""The most rules one ruleset may have (the shipped ones have under 30); 1,000 load in about a second.
Each file is also at most :data:`compliance._yaml.MAX_BYTES`, each condition within the limits of
:mod:`compliance.rules._parse`."""

Getter = Callable[[Facts], Any]
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_.]*)\}")


# -- parameters ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Parameter:
    """A named, sourced value a rule reads as ``params.<name>``; a platform may override it."""

    name: str
    type: str
    value: Any
    title: Text
    source_clause: str | None
    source_note: str
    overridden: bool = False


def parameter_value(kind: str, raw: Any) -> Any:
    """Convert a parameter's written value to its typed value, or raise ``ValueError`` saying why."""
    if kind == "money":
        try:
            return MONEY.validate_python(raw)
        except ValidationError as error:
            raise ValueError(error.errors(include_input=False)[0]["msg"]) from None
    if kind == "number":
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str, Decimal)):
            raise ValueError("expected a number")
        try:
            number = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(str(raw))
        except InvalidOperation:
            raise ValueError("expected a number") from None
        if not number.is_finite():
            raise ValueError("expected a finite number")
        return number
    if kind == "boolean":
        if not isinstance(raw, bool):
            raise ValueError("expected true or false")
        return raw
    if kind == "string":
        if not isinstance(raw, str):
            raise ValueError("expected a string")
        return raw
    if not isinstance(raw, (list, tuple)) or not all(isinstance(v, str) for v in raw):
        raise ValueError("expected a list of strings")
    if kind == "disclosure_items":
        unknown = [v for v in raw if v not in DISCLOSURE_ITEMS]
        if unknown:
            raise ValueError(f"unknown disclosure item(s) {unknown}; known: {list(DISCLOSURE_ITEMS)}")
        if not raw or len(set(raw)) != len(raw):
            raise ValueError("expected a non-empty list of distinct disclosure items")
    return tuple(raw)


_STAND_IN: dict[str, Any] = {
    "money": Decimal(0),
    "number": Decimal(0),
    "boolean": False,
    "string": "",
    "string_list": ("",),
    "disclosure_items": ("house",),
}
"""A value of each parameter type, used only to type-check rules when a parameter's own value is bad."""


def _json_value(value: Any) -> Any:
    """A value as it appears in findings and digests: exact, JSON-safe, never a raw identifier."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (int, float)):
        return str(Decimal(repr(value)))
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return [_json_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return str(value)


# -- rules ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class Rule:
    """One compiled rule: what it checks, when, with what effect, citing which clauses."""

    id: str
    ruleset_id: str
    title: Text
    stages: frozenset[str]
    severity: str
    outcome: str
    requires: tuple[str, ...]
    applies_when: str | None
    fails_when: str
    citations: tuple[Citation, ...]
    message: Text
    obligations_on_fail: tuple[Obligation, ...]
    obligations_when_applicable: tuple[Obligation, ...]
    location: str
    required: tuple[Getter, ...] = field(repr=False)
    applies: CompiledCondition | None = field(repr=False)
    fails: CompiledCondition = field(repr=False)
    reference_applies: rule_engine.Rule | None = field(repr=False)
    reference_fails: rule_engine.Rule = field(repr=False)
    value_getters: tuple[tuple[str, Getter], ...] = field(repr=False)
    params: Any = field(repr=False)
    """The ruleset's parameters, as the conditions read them (the batch compiler folds them too)."""
    message_parts: tuple[tuple[str, ...], tuple[str, ...]] = field(repr=False)
    """The zh and en messages split at their placeholders: literal, path, literal, path, …, literal."""
    status: Callable[[Facts], str] = field(repr=False)
    """``status(facts)``: pass, fail, not_applicable or not_evaluable, by the compiled conditions.

    Order: ``applies_when`` (false: not_applicable), then ``requires`` (a missing value: not_evaluable),
    then ``fails_when`` (true: fail, false: pass). Any error: not_evaluable. Built once per rule by
    :func:`_status_function`, specialised to the parts the rule has (it runs for every campaign)."""

    @property
    def compiled(self) -> bool:
        """Whether both conditions run as compiled closures (else rule-engine evaluates them)."""
        return self.fails.compiled and (self.applies is None or self.applies.compiled)

    def unevaluable_reason(self, facts: Facts, explain: Mapping[str, str] | None = None) -> str:
        """Why :meth:`status` gave not_evaluable: the first missing value, or the error raised.

        A missing value reads ``"<path> is missing"``, or its sentence in ``explain`` (see MISSING_REASONS).
        """
        try:
            if self.applies is not None:
                self.applies.evaluate(facts)
        except Exception as error:
            return f"applies_when could not be evaluated ({type(error).__name__}: {error})"
        for path, getter in zip(self.requires, self.required, strict=True):
            if _missing(getter, facts):
                return f"{path} is missing" if explain is None else explain.get(path, f"{path} is not known")
        try:
            self.fails.evaluate(facts)
        except Exception as error:
            return f"fails_when could not be evaluated ({type(error).__name__}: {error})"
        return "the rule could not be evaluated"

    def reference_status(self, facts: Facts) -> str:
        """The status by rule-engine's own evaluator: the reference semantics for the compiled path."""
        try:
            if self.reference_applies is not None and not self.reference_applies.matches(facts):
                return "not_applicable"
            if any(_missing(getter, facts) for getter in self.required):
                return "not_evaluable"
            return "fail" if self.reference_fails.matches(facts) else "pass"
        except Exception:
            return "not_evaluable"

    def values(self, facts: Facts) -> dict[str, Any]:
        """The values this rule reads, by path, JSON-safe (parameters were converted once, at load)."""
        out = {}
        for path, getter in self.value_getters:
            try:
                value = getter(facts)
            except Exception:
                value = None
            if value is not _OBJECT:  # a required object's own fields are listed where they are read
                out[path] = value
        return out

    def render_message(self, values: Mapping[str, Any]) -> Text:
        """The failure message with its placeholders filled from ``values`` (amounts as 312,000.00)."""
        zh, en = self.message_parts
        return Text._trusted(zh=_fill(zh, values), en=_fill(en, values))


def _status_function(
    applies: CompiledCondition | None, required: tuple[Getter, ...], fails: CompiledCondition
) -> Callable[[Facts], str]:
    check = fails.evaluate
    if applies is None and not required:

        def status(facts: Facts) -> str:
            try:
                return "fail" if check(facts) else "pass"
            except Exception:  # any failure to evaluate means the rule cannot vouch: fail closed
                return "not_evaluable"

        return status
    applies_now = None if applies is None else applies.evaluate

    def full_status(facts: Facts) -> str:
        try:
            if applies_now is not None and not applies_now(facts):
                return "not_applicable"
            for get in required:
                if get(facts) is None:
                    return "not_evaluable"
            return "fail" if check(facts) else "pass"
        except Exception:  # a missing parent (AttributeError) or a failed condition: fail closed
            return "not_evaluable"

    return full_status


MISSING_REASONS: Mapping[str, str] = {
    "blacklist.initiator": "the initiator could not be checked against the blacklist "
    "(no blacklist was supplied, or the campaign has no identity number or hash for them)",
    "blacklist.patient": "the patient could not be checked against the blacklist "
    "(no blacklist was supplied, or the campaign has no identity number or hash for them)",
    "blacklist.payee": "the payee could not be checked against the blacklist "
    "(no blacklist was supplied, or the payout has no identity number or hash for the payee)",
    "payout": "the campaign has no payout request to check",
}
"""Why a required value can be missing, in words a reviewer can act on."""


def _missing(getter: Getter, facts: Facts) -> bool:
    try:
        return getter(facts) is None
    except AttributeError:
        return True


_AMOUNT = re.compile(r"^(\d+)\.(\d\d)$")


def _fill(parts: tuple[str, ...], values: Mapping[str, Any]) -> str:
    pieces = list(parts)
    for index in range(1, len(pieces), 2):
        pieces[index] = _display(values.get(pieces[index]))
    return "".join(pieces)


def _display(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        amount = _AMOUNT.match(value)  # money reaches messages as its exact text, e.g. "312000.00"
        return f"{int(amount[1]):,}.{amount[2]}" if amount else value
    return str(value)


_PLAIN = (type(None), bool, str, int, float, Decimal, date, tuple, list, Mapping)
"""Values a finding lists as they are; anything else is a nested object whose fields are listed where read."""
_OBJECT = object()
"""What a value getter returns for a whole nested object (e.g. a required ``payout``): not listed."""


def _json_getter(path: str, params: Any) -> Getter:
    """A getter of the JSON-safe value at ``path``; a parameter's is computed once, here."""
    if path.startswith("params."):
        constant = _json_value(operator.attrgetter(path.removeprefix("params."))(params))
        return lambda _facts: constant
    get = _path_getter(path)

    def json_value(facts: Facts) -> Any:
        value = get(facts)
        return _json_value(value) if isinstance(value, _PLAIN) else _OBJECT

    return json_value


def _path_getter(path: str) -> Getter:
    if path.partition(".")[0] in EXTRA_SYMBOLS:
        return operator.attrgetter(path)
    return operator.attrgetter("campaign." + path)


# -- rulesets -------------------------------------------------------------------------------------


class Ruleset:
    """Rules in force together, with their parameters; one shipped version, or several combined."""

    def __init__(
        self,
        *,
        id: str,
        title: Text,
        families: tuple[str, ...],
        effective_from: date,
        revision: str,
        rules: tuple[Rule, ...],
        parameters: Mapping[str, Parameter],
        digest: str,
        members: tuple[Ruleset, ...] = (),
    ) -> None:
        self.id = id
        self.title = title
        self.families = families
        self.effective_from = effective_from
        self.revision = revision
        self.rules = rules
        self.parameters = dict(parameters)
        self.digest = digest
        self.members = members or (self,)
        self._by_stage = {s: tuple(r for r in rules if s in r.stages) for s in ("publish", "payout")}

    def __repr__(self) -> str:
        return f"<Ruleset {self.id} revision {self.revision}: {len(self.rules)} rules>"

    def rules_for(self, stage: str) -> tuple[Rule, ...]:
        """The rules checked at ``stage`` (``publish`` or ``payout``), in order."""
        return self._by_stage[stage]

    @property
    def overrides(self) -> tuple[str, ...]:
        return tuple(sorted({p.name for m in self.members for p in m.parameters.values() if p.overridden}))

    @cached_property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.rules)

    @cached_property
    def ref(self) -> RulesetRef:
        """What a decision records of this ruleset: id, revision, digest, overridden parameters."""
        return RulesetRef(id=self.id, revision=self.revision, digest=self.digest, overrides=self.overrides)


@dataclass(frozen=True, slots=True)
class _Source:
    """A ruleset as read from disk, before compilation (kept so parameters can be overridden)."""

    meta: Any
    parameters: dict[str, ParameterSpec]
    rules: tuple[tuple[RuleSpec, YamlDocument, tuple[int | str, ...]], ...]
    header: YamlDocument


def _read_source(path: Path, problems: list[RuleProblem]) -> _Source | None:
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
    return _Source(parsed.ruleset, dict(parsed.parameters), tuple(located), header)


def _build(
    source: _Source, corpus: Corpus, overrides: Mapping[str, Any], problems: list[RuleProblem]
) -> Ruleset | None:
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
    source: _Source, corpus: Corpus, overrides: Mapping[str, Any], problems: list[RuleProblem]
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
    applies = _compile_text(spec.applies_when, "applies_when", (params_type, (), params_obj), params_obj, problem)
    fails = _compile_text(spec.fails_when, "fails_when", (params_type, requires, params_obj), params_obj, problem)
    if fails is None or (spec.applies_when is not None and applies is None):
        return None
    reads = tuple(dict.fromkeys((*requires, *(applies[1].reads if applies else ()), *fails[1].reads)))
    for key in ("zh", "en"):
        for name in _PLACEHOLDER.findall(getattr(spec.message, key)):
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
    required = tuple(_path_getter(p) for p in requires)
    return Rule(
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
        required=required,
        applies=applies[1] if applies else None,
        fails=fails[1],
        reference_applies=applies[0] if applies else None,
        reference_fails=fails[0],
        value_getters=tuple((p, _json_getter(p, params_obj)) for p in reads),
        params=params_obj,
        message_parts=(tuple(_PLACEHOLDER.split(spec.message.zh)), tuple(_PLACEHOLDER.split(spec.message.en))),
        status=_status_function(applies[1] if applies else None, required, fails[1]),
    )


def _compile_text(
    text: str | None,
    key: str,
    context_args: tuple[Any, ...],
    params_obj: Any,
    problem: Callable[[tuple[int | str, ...], str, str], None],
) -> tuple[rule_engine.Rule, CompiledCondition] | None:
    if text is None:
        return None
    try:
        reference = parse(text, make_context(*context_args))
    except ConditionLimit as error:
        problem((key,), "limit", f"{key}: {error}")
        return None
    except rule_engine.errors.RuleSyntaxError as error:
        problem(
            (key,),
            "syntax",
            f"{key} is not valid rule-engine syntax: {error.message}"
            + (f" near {quote(error.token.value)}" if getattr(error, "token", None) else ""),
        )
        return None
    except rule_engine.errors.RegexSyntaxError as error:
        problem((key,), "regex", f"{key}: the pattern {quote(error.value)}: {error.message}")
        return None
    except rule_engine.errors.SymbolResolutionError as error:
        problem(
            (key,),
            "unknown_field",
            f"{key} uses {quote(error.symbol_name)}, which is not a campaign field" + _suggest(error),
        )
        return None
    except rule_engine.errors.ObjectAttributeError as error:
        code = "unknown_parameter" if getattr(error.object, "name", "") == "Parameters" else "unknown_field"
        noun = "parameter" if code == "unknown_parameter" else "field"
        problem((key,), code, f"{key} uses unknown {noun} {quote(error.attribute_name)}" + _suggest(error))
        return None
    except rule_engine.errors.EngineError as error:
        message = shorten(error.message)
        problem((key,), "type_error", f"{key} does not type-check against the campaign schema: {message}")
        return None
    used = builtins_used(reference.statement.expression) - ALLOWED_BUILTINS
    if used:
        problem(
            (key,),
            "nondeterministic",
            f"{key} uses ${', $'.join(sorted(used))}; only "
            f"${', $'.join(sorted(ALLOWED_BUILTINS))} are allowed, so decisions do not depend on when they are made",
        )
        return None
    try:
        return reference, compile_condition(reference, params_obj)
    except ConditionLimit as error:
        problem((key,), "limit", f"{key}: {error}")
        return None


def _suggest(error: Any) -> str:
    suggestion = getattr(error, "suggestion", None)
    return f"; did you mean {suggestion!r}?" if suggestion else ""


def _digest(source: _Source, parameters: Mapping[str, Parameter], corpus: Corpus) -> str:
    cited = sorted({c for spec, _doc, _loc in source.rules for c in spec.cites})
    payload = {
        "ruleset": source.meta.model_dump(mode="json"),
        "parameters": {n: [p.type, _json_value(p.value)] for n, p in sorted(parameters.items())},
        "rules": [spec.model_dump(mode="json") for spec, _doc, _loc in source.rules],
        "clauses": {c: corpus[c].model_dump(mode="json") for c in cited if c in corpus},
    }
    return _sha256(payload)


def _sha256(payload: Any) -> str:
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _combine(members: tuple[Ruleset, ...]) -> Ruleset:
    if len(members) == 1:
        return members[0]
    rules = tuple(r for m in members for r in m.rules)
    parameters = {f"{m.id}:{n}": p for m in members for n, p in m.parameters.items()}
    return Ruleset(
        id="+".join(m.id for m in members),
        title=Text(zh=" + ".join(m.title.zh for m in members), en=" + ".join(m.title.en for m in members)),
        families=tuple(f for m in members for f in m.families),
        effective_from=max(m.effective_from for m in members),
        revision="+".join(m.revision for m in members),
        rules=rules,
        parameters=parameters,
        digest=_sha256([m.digest for m in members]),
        members=members,
    )


# -- the catalog: every ruleset, chosen by date ---------------------------------------------------


class Catalog:
    """Every loaded ruleset; picks, for an event's date, the version of each family in force, combined.

    >>> catalog = Catalog.default()
    >>> catalog.for_date(datetime(2025, 1, 1, tzinfo=SHANGHAI)).id
    'convention-2.0+charity-law-2024'
    """

    def __init__(
        self,
        sources: Mapping[str, _Source],
        corpus: Corpus,
        overrides: Mapping[str, Any] | None = None,
        *,
        problems: Iterable[RuleProblem] = (),
    ):
        overrides = dict(overrides or {})
        problems = list(problems)  # from reading the files: reported together with those found here
        known = {name for s in sources.values() for name in s.parameters}
        for name in sorted(set(overrides) - known):
            problems.append(
                RuleProblem(
                    "(overrides)",
                    None,
                    None,
                    "unknown_parameter",
                    f"no ruleset has a parameter named {name!r}; known: {sorted(known)}",
                )
            )
        built = {}
        for ruleset_id, source in sources.items():
            mine = {k: v for k, v in overrides.items() if k in source.parameters}
            ruleset = _build(source, corpus, mine, problems)
            if ruleset is not None:
                built[ruleset_id] = ruleset
        _check_unique_rule_ids(built.values(), problems)
        if problems:
            raise RuleFileError(problems)
        self._sources = dict(sources)
        self.corpus = corpus
        self.overrides = overrides
        self.rulesets: dict[str, Ruleset] = built
        self._families: dict[str, list[Ruleset]] = {}
        for ruleset in sorted(built.values(), key=lambda r: r.effective_from):
            self._families.setdefault(ruleset.families[0], []).append(ruleset)
        self._combined: dict[tuple[str, ...], Ruleset] = {}
        self._by_day: dict[date, Ruleset] = {}
        self._starts = {family: [v.effective_from for v in versions] for family, versions in self._families.items()}

    @classmethod
    def default(cls) -> Catalog:
        """The shipped rulesets and clause corpus (loaded once per process)."""
        return _default_catalog()

    @classmethod
    def load(cls, ruleset_paths: Iterable[Path | str], clause_paths: Iterable[Path | str] | None = None) -> Catalog:
        """A catalog of the rulesets at ``ruleset_paths`` (folders or single files)."""
        corpus = load_corpus(None if clause_paths is None else [Path(p) for p in clause_paths])
        problems: list[RuleProblem] = []
        sources = _read_sources([Path(p) for p in ruleset_paths], problems)
        return cls(sources, corpus, problems=problems)

    def with_parameters(self, overrides: Mapping[str, Any]) -> Catalog:
        """A copy in which the named parameters take these values (e.g. a platform's lower cap)."""
        return Catalog(self._sources, self.corpus, {**self.overrides, **overrides})

    def with_rules(self, *paths: Path | str, clauses: Iterable[Path | str] = ()) -> Catalog:
        """A copy with a platform's own rulesets (folders or single files) and clause files added."""
        problems: list[RuleProblem] = []
        corpus = self.corpus
        clause_paths = [Path(p) for p in clauses]
        if clause_paths:
            corpus = corpus.merged(load_corpus(clause_paths, problems), problems)
        added = _read_sources([Path(p) for p in paths], problems)
        for ruleset_id in sorted(set(added) & set(self._sources)):
            problems.append(
                RuleProblem(
                    str(added[ruleset_id].header.path),
                    None,
                    None,
                    "duplicate_id",
                    f"ruleset {ruleset_id} is already loaded; give the platform's ruleset its own id",
                )
            )
            del added[ruleset_id]
        return Catalog({**self._sources, **added}, corpus, self.overrides, problems=problems)

    def get(self, ruleset_id: str) -> Ruleset:
        """One ruleset by id; ``a+b`` combines several."""
        try:
            return self._combine(tuple(self.rulesets[part] for part in ruleset_id.split("+")))
        except KeyError:
            raise RulesetNotFound(f"no ruleset {ruleset_id!r}; known: {sorted(self.rulesets)}") from None

    def for_date(self, when: datetime | date) -> Ruleset:
        """The rulesets in force on ``when`` (a naive time means Asia/Shanghai), combined."""
        if isinstance(when, datetime):  # validated campaign times are already in Asia/Shanghai
            day = (when if when.tzinfo is SHANGHAI or when.tzinfo is None else when.astimezone(SHANGHAI)).date()
        else:
            day = when
        cached = self._by_day.get(day)
        if cached is not None:
            return cached
        members = []
        for family, versions in self._families.items():
            index = bisect.bisect_right(self._starts[family], day)
            if index:
                members.append(versions[index - 1])
        if not members:
            first = min(r.effective_from for r in self.rulesets.values())
            raise RulesetNotFound(
                f"no ruleset is in force on {day.isoformat()}; the earliest takes effect {first.isoformat()}"
            )
        chosen = self._combine(tuple(sorted(members, key=lambda r: (r.effective_from, r.id))))
        if len(self._by_day) < 100_000:
            self._by_day[day] = chosen
        return chosen

    def _combine(self, members: tuple[Ruleset, ...]) -> Ruleset:
        key = tuple(m.id for m in members)
        if key not in self._combined:
            self._combined[key] = _combine(members)
        return self._combined[key]

    def __iter__(self) -> Any:
        return iter(sorted(self.rulesets.values(), key=lambda r: (r.effective_from, r.id)))


def _read_sources(paths: list[Path], problems: list[RuleProblem]) -> dict[str, _Source]:
    """Read rulesets; problems are appended, and what could be read is returned so it is checked too."""
    sources: dict[str, _Source] = {}
    for path in paths:
        source = _read_source(path, problems)
        if source is None:
            continue
        if source.meta.id in sources:
            problems.append(
                RuleProblem(str(path), None, None, "duplicate_id", f"ruleset {source.meta.id} appears twice")
            )
            continue
        sources[source.meta.id] = source
    return sources


def _check_unique_rule_ids(rulesets: Iterable[Ruleset], problems: list[RuleProblem]) -> None:
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


_DEFAULT: Catalog | None = None


def _default_catalog() -> Catalog:
    global _DEFAULT
    if _DEFAULT is None:
        problems: list[RuleProblem] = []
        sources = _read_sources([RULES_DIR / name for name in SHIPPED_RULESETS], problems)
        _DEFAULT = Catalog(sources, load_corpus(), problems=problems)
    return _DEFAULT


def load_ruleset(
    path: Path | str, *, clauses: Iterable[Path | str] = (), parameters: Mapping[str, Any] | None = None
) -> Ruleset:
    """Load one ruleset (a folder or a single file) against the shipped corpus plus ``clauses``."""
    problems: list[RuleProblem] = []
    corpus = load_corpus()
    clause_paths = [Path(p) for p in clauses]
    if clause_paths:
        corpus = corpus.merged(load_corpus(clause_paths, problems), problems)
    sources = _read_sources([Path(path)], problems)
    catalog = Catalog(sources, corpus, parameters, problems=problems)
    return next(iter(catalog.rulesets.values()))
