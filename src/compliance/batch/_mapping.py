"""Applying a mapping: :class:`ExportMapping` turns an export's own columns and spellings (是/否,
有/无, 万) into the schema's flat columns, hashing raw identity numbers with the platform's key as they are
read. It translates; it never validates. The shipped mappings are found here by name.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from compliance._flat import FLAT_COLUMNS
from compliance._yaml import quote, read_yaml, validate
from compliance.batch._mapping_schema import (
    _CONVERTERS,
    _HASHED,
    COLUMN_TYPES,
    _check,
    _DatetimeSpec,
    _MappingFile,
    _parse_datetime,
    _suggestion,
)
from compliance.blacklist import hash_id_number
from compliance.errors import ExportError, MappingError, RuleProblem

__all__ = ["ExportMapping", "Mapping", "shipped_mappings"]


_SHIPPED = Path(__file__).parent / "mappings"


# -- applying a mapping -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    """How one export column becomes one flat column."""

    source: str
    target: str
    values: dict[str, Any]
    missing: frozenset[str]
    converter: Callable[[str], str | None] | None
    separator: str | None
    hashed: bool

    @property
    def plain(self) -> bool:
        return not (self.values or self.missing or self.converter or self.separator or self.hashed)

    def text(self, cell: str) -> Any:
        key = cell.strip()
        if not key or key in self.missing:
            return None
        if key in self.values:
            return self.values[key]
        if self.separator is not None:
            return tuple(item.strip() for item in cell.split(self.separator) if item.strip())
        if self.converter is not None:
            converted = self.converter(key)
            return cell if converted is None else converted
        return cell

    def hashed_text(self, cell: str, key: bytes | str) -> str | None:
        text = cell.strip()
        return None if not text or text in self.missing else hash_id_number(text, key)

    def convert(self, series: pd.Series, id_key: bytes | str | None) -> pd.Series:
        if self.plain:
            return series
        if self.hashed:
            if id_key is None:
                raise ExportError(
                    f"column {self.source!r} holds raw identity numbers (mapped to {self.target} with "
                    "hash_with_key): pass id_key, the platform's blacklist key, to hash them as they are read, "
                    "or ignore the column"
                )
            cell: Callable[[str], Any] = functools.partial(self.hashed_text, key=id_key)
        else:
            cell = self.text
        if pd.api.types.infer_dtype(series, skipna=True) == "string":
            codes, uniques = pd.factorize(series)  # each distinct spelling translated once
            translated = np.empty(len(uniques) + 1, dtype=object)
            translated[:-1] = [cell(u) for u in uniques]
            return pd.Series(translated[codes], index=series.index, dtype=object)
        # typed or mixed values (Parquet, JSON): text cells are translated, and whole numbers hashed
        cells = [
            cell(v) if isinstance(v, str) else cell(str(v)) if self.hashed and isinstance(v, int) else v
            for v in series.astype(object)
        ]
        return pd.Series(cells, index=series.index, dtype=object)


def _constant(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (date, datetime)) else value


class ExportMapping:
    """How one export's columns and spellings become flat campaign columns.

    Load one from YAML with :meth:`load` (a path, or the name of a shipped mapping such as
    ``"gofundme-meninato2018"``); :meth:`apply` translates a raw frame. Every problem in the file is
    reported at once, with file and line (:class:`MappingError`).
    """

    def __init__(
        self,
        name: str,
        rules: list[_Rule],
        *,
        ignore: frozenset[str] = frozenset(),
        unmapped: str = "error",
        constants: dict[str, Any] | None = None,
        source: str = "",
    ) -> None:
        self.name = name
        self.source = source
        self._rules: dict[str, _Rule] = {rule.source: rule for rule in rules}
        self._ignore = ignore
        self._unmapped = unmapped
        self._constants = dict(constants or {})

    def __repr__(self) -> str:
        return f"Mapping({self.name!r}, source={self.source!r})"

    @property
    def columns(self) -> dict[str, str]:
        """Export column → flat column."""
        return {source: rule.target for source, rule in self._rules.items()}

    @property
    def constants(self) -> dict[str, Any]:
        return dict(self._constants)

    @classmethod
    def load(cls, path_or_name: str | PathLike[str]) -> ExportMapping:
        """Read and check a mapping file, or a shipped mapping by name (see :func:`shipped_mappings`)."""
        path = _find_mapping(path_or_name)
        problems: list[RuleProblem] = []
        doc = read_yaml(path, problems)
        spec = validate(_MappingFile, doc, problems) if doc is not None else None
        if spec is not None and doc is not None:
            problems += _check(spec, doc)
        if problems or spec is None:
            raise MappingError(problems)
        return cls._from_spec(spec, source=str(path))

    @classmethod
    def _from_spec(cls, spec: _MappingFile, *, source: str = "") -> ExportMapping:
        rules = []
        missing = frozenset(m.strip() for m in spec.missing)
        for export_column, entry in spec.columns.items():
            target, hashed = (entry, False) if isinstance(entry, str) else (entry.to, entry.hash_with_key)
            kind = COLUMN_TYPES[target]
            values = {k.strip(): v for k, v in {**spec.values.get(kind, {}), **spec.values.get(target, {})}.items()}
            parse = spec.parse.get(target, spec.parse.get(kind))
            converter: Callable[[str], str | None] | None
            if isinstance(parse, _DatetimeSpec):
                converter = functools.partial(_parse_datetime, pattern=parse.datetime)
            else:
                converter = None if parse is None else _CONVERTERS[parse][0]
            separator = spec.separators.get(target, spec.separators.get(kind)) if kind == "list" else None
            rules.append(_Rule(export_column, target, values, missing, converter, separator, hashed))
        constants = {target: _constant(value) for target, value in spec.constants.items()}
        ignore = frozenset(spec.ignore)
        return cls(spec.name, rules, ignore=ignore, unmapped=spec.unmapped, constants=constants, source=source)

    @classmethod
    def _flat(cls) -> ExportMapping:
        """The mapping used without one: columns already carry flat names (nested JSON is flattened first);
        raw identity numbers at their Campaign JSON paths are hashed into their hash columns."""
        # list columns in text formats are ";"-separated, as evaluate_frame writes lists
        rules = [
            _Rule(c, c, {}, frozenset(), None, ";" if COLUMN_TYPES[c] == "list" else None, False) for c in FLAT_COLUMNS
        ]
        rules += [_Rule(raw, hashed, {}, frozenset(), None, None, True) for raw, hashed in _HASHED.items()]
        return cls("flat columns", rules, source="(no mapping)")

    def apply(self, raw: pd.DataFrame, *, id_key: bytes | str | None = None) -> pd.DataFrame:
        """``raw``'s columns as flat columns (schema order), values translated but not validated.

        Raises :class:`ExportError` for columns the mapping neither maps nor ignores (unless it says
        ``unmapped: ignore``), and for raw identity numbers when no ``id_key`` is given.
        """
        self._check_columns(raw)
        found: dict[str, list[tuple[bool, pd.Series]]] = {}
        for source in raw.columns:
            rule = self._rules.get(source)
            if rule is None:
                continue
            column = raw[source]
            if rule.hashed and column.isna().all():  # nothing to hash, so no key is needed
                converted = pd.Series(None, index=raw.index, dtype=object)
            else:
                converted = rule.convert(column, id_key)
            found.setdefault(rule.target, []).append((rule.hashed, converted))
        out: dict[str, pd.Series] = {}
        for target, sources in found.items():  # two sources only in the flat mapping: a hash given, else the raw
            first, *rest = [series for _hashed, series in sorted(sources, key=lambda pair: pair[0])]
            out[target] = first.where(first.notna(), rest[0]) if rest else first
        for target, value in self._constants.items():
            out[target] = pd.Series([value] * len(raw), index=raw.index, dtype=object)
        return pd.DataFrame({c: out[c] for c in FLAT_COLUMNS if c in out}, index=raw.index)

    def _check_columns(self, raw: pd.DataFrame) -> None:
        duplicated = sorted({str(c) for c in raw.columns[raw.columns.duplicated()]})
        if duplicated:
            raise ExportError(f"columns appear more than once: {', '.join(map(repr, duplicated))}")
        unknown = [c for c in raw.columns if c not in self._rules and c not in self._ignore]
        if not unknown or self._unmapped == "ignore":
            return
        known = [*self._rules, *self._ignore]
        names = ", ".join(f"{quote(c)}{_suggestion(c, known)}" for c in unknown)
        if self.source == "(no mapping)":
            raise ExportError(f"not flat schema columns: {names}; read the export with a mapping (see docs/exports.md)")
        raise ExportError(
            f"columns that mapping {self.name!r} ({self.source}) neither maps nor ignores: {names}; "
            "map them under columns, list them under ignore, or set unmapped: ignore"
        )


Mapping = ExportMapping
""":class:`ExportMapping`'s earlier name, the same class, so code that imports it keeps working (the new name
says which mapping it is, and no longer reads as :class:`collections.abc.Mapping`)."""


def shipped_mappings() -> list[str]:
    """Names of the mappings shipped with the library, for :meth:`ExportMapping.load`."""
    return sorted(p.stem for p in _SHIPPED.glob("*.yaml"))


def _find_mapping(path_or_name: str | PathLike[str]) -> Path:
    path = Path(path_or_name)
    if path.is_file():
        return path
    name = str(path_or_name)
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name) and (_SHIPPED / f"{name}.yaml").is_file():
        return _SHIPPED / f"{name}.yaml"
    message = f"no such mapping file, and no shipped mapping of that name (shipped: {', '.join(shipped_mappings())})"
    raise MappingError([RuleProblem(name, None, None, "not-found", message)])
