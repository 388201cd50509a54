"""The catalog: every loaded ruleset, and which version of each family is in force on a date.

:class:`Catalog` reads and builds its rulesets (through :mod:`compliance.rules._loading`), applies a
platform's parameter overrides and added rule files, and combines the versions in force for an event's
date; :func:`load_ruleset` loads one ruleset on its own.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from compliance.campaign import SHANGHAI
from compliance.errors import RuleFileError, RuleProblem, RulesetNotFound
from compliance.rules._corpus import Corpus, load_corpus
from compliance.rules._loading import RulesetFiles, build_ruleset, check_unique_rule_ids, read_rulesets
from compliance.rules._ruleset import Ruleset, combine

RULES_DIR = Path(__file__).parent
SHIPPED_RULESETS = ("convention-1.0", "convention-2.0", "charity-law-2024")


class Catalog:
    """Every loaded ruleset; picks, for an event's date, the version of each family in force, combined.

    >>> catalog = Catalog.default()
    >>> catalog.for_date(datetime(2025, 1, 1, tzinfo=SHANGHAI)).id
    'convention-2.0+charity-law-2024'
    """

    def __init__(
        self,
        sources: Mapping[str, RulesetFiles],
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
            ruleset = build_ruleset(source, corpus, mine, problems)
            if ruleset is not None:
                built[ruleset_id] = ruleset
        check_unique_rule_ids(built.values(), problems)
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
        sources = read_rulesets([Path(p) for p in ruleset_paths], problems)
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
        added = read_rulesets([Path(p) for p in paths], problems)
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
            self._combined[key] = combine(members)
        return self._combined[key]

    def __iter__(self) -> Any:
        return iter(sorted(self.rulesets.values(), key=lambda r: (r.effective_from, r.id)))


_DEFAULT: Catalog | None = None


def _default_catalog() -> Catalog:
    global _DEFAULT
    if _DEFAULT is None:
        problems: list[RuleProblem] = []
        sources = read_rulesets([RULES_DIR / name for name in SHIPPED_RULESETS], problems)
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
    sources = read_rulesets([Path(path)], problems)
    catalog = Catalog(sources, corpus, parameters, problems=problems)
    return next(iter(catalog.rulesets.values()))
