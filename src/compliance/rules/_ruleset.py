"""What a ruleset *is*: rules in force together, with their parameters, revision and digest; one
shipped version, or several combined (e.g. ``convention-2.0+charity-law-2024``) as a catalog combines
them for a date.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date
from functools import cached_property
from typing import Any

from compliance._vocabulary import STAGES
from compliance.decision import RulesetRef, Text
from compliance.rules._parameters import Parameter
from compliance.rules._rule import Rule


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
        self._by_stage: dict[str, tuple[Rule, ...]] = {s: tuple(r for r in rules if s in r.stages) for s in STAGES}
        self.forms: dict[Any, Any] = {}
        """What evaluators built for this ruleset's stages (e.g. each stage's status functions), kept with it."""

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


def sha256_hex(payload: Any) -> str:
    """The SHA-256 of ``payload``'s canonical JSON (sorted keys, UTF-8): how a ruleset's digest is made."""
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def combine(members: tuple[Ruleset, ...]) -> Ruleset:
    """One ruleset of several in force together: their rules in order, their parameters by ``id:name``."""
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
        digest=sha256_hex([m.digest for m in members]),
        members=members,
    )
