"""The one door through which `compliance` reads YAML: safe, bounded, and short in its errors.

Rule files, clause files and mapping files are written by people other than the ones who run them, so
reading one must not be a way to exhaust the machine:

- only the safe loader's plain types (no tags that build Python objects);
- no aliases (``*name``): an alias expands to a copy of its anchor's value, so a few hundred bytes of
  nested aliases can stand for gigabytes ("billion laughs"). Anchors alone are harmless and allowed;
- at most :data:`MAX_BYTES` per file and :data:`MAX_DEPTH` levels of nesting (the composer recurses);
- a value quoted back in an error is cut to :data:`QUOTE_CHARS` characters (:func:`quote`).

A file is read as a :class:`YamlDocument` (its data and its node tree, so every problem found later names
its line); :func:`read_yaml` turns a file that cannot be read into a problem, and :func:`validate` checks
the data against a pydantic schema, a problem per error. Rule, clause and mapping files all come this way.

>>> load_text("a: [1, 2]")
{'a': [1, 2]}
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar, cast

import yaml
from pydantic import BaseModel, ValidationError

from compliance.errors import FileTooLarge, RuleProblem, YamlLimitError, without_id_numbers

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "QUOTE_CHARS",
    "FileTooLarge",
    "YamlDocument",
    "YamlLimitError",
    "compose_text",
    "construct",
    "load_text",
    "quote",
    "read_text",
    "read_yaml",
    "shorten",
    "validate",
    "yaml_files",
]

MAX_BYTES = 1 << 20
"""The largest YAML file read (1 MiB); the shipped files are under 11 KB."""
MAX_DEPTH = 64
"""The deepest nesting of mappings and sequences read (the shipped files nest 5 deep)."""
QUOTE_CHARS = 60
"""The most characters of a file's value quoted back in an error message."""


class _PyParser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    """PyYAML's own event parser, for a PyYAML built without libyaml."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)


try:  # libyaml's event parser (four times faster on a 600 KB file); composing and limits stay ours
    from yaml.cyaml import CParser as _Parser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _Parser = _PyParser  # type: ignore[assignment,misc]


class _Loader(yaml.composer.Composer, _Parser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
    """The safe loader's types and tags, refusing aliases and nesting beyond :data:`MAX_DEPTH`."""

    _depth = 0

    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            raise self._refused("aliases (*name) are not allowed; write the value out in full")
        if self.check_event(yaml.MappingStartEvent, yaml.SequenceStartEvent):
            if self._depth >= MAX_DEPTH:
                raise self._refused(f"nested more than {MAX_DEPTH} levels deep")
            self._depth += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1
        return super().compose_node(parent, index)

    def _refused(self, problem: str) -> YamlLimitError:
        event: Any = self.peek_event()
        return YamlLimitError(None, None, problem, event.start_mark)


def read_text(path: Path) -> str:
    """A YAML file's text (UTF-8), refused with :class:`FileTooLarge` when over :data:`MAX_BYTES`.

    Raises ``OSError`` and ``UnicodeDecodeError`` as reading does."""
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise FileTooLarge(f"the file is {size:,} bytes; files of at most {MAX_BYTES:,} bytes are read")
    return path.read_text(encoding="utf-8")


def compose_text(text: str) -> yaml.Node | None:
    """The node tree of one YAML document (for line numbers), within this module's limits."""
    loader = _Loader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def construct(node: yaml.Node | None) -> Any:
    """The plain Python value of a node tree from :func:`compose_text`."""
    if node is None:
        return None
    loader = _Loader("")
    try:
        return loader.construct_document(node)
    except (ValueError, OverflowError) as error:  # a date that is no date, a tag whose text it cannot read
        raise yaml.constructor.ConstructorError(
            None, None, without_id_numbers(str(error))[:200], getattr(error, "problem_mark", None)
        ) from None
    finally:
        loader.dispose()


def load_text(text: str) -> Any:
    """One YAML document's plain value, within this module's limits (raises ``yaml.YAMLError``)."""
    return construct(compose_text(text))


def quote(value: Any) -> str:
    """``repr(value)``, cut to :data:`QUOTE_CHARS` characters so a long value cannot swamp a message, and
    with any run of 15 or more digits (the length of an identity number) left out.

    >>> quote("x" * 100)[-3:], quote(110101199003074578)
    ('xx…', '<18 digits>')
    """
    text = without_id_numbers(repr(value))
    return text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1] + "…"


# -- files read with line numbers, and checked against a schema -----------------------------------


M = TypeVar("M", bound=BaseModel)


class YamlDocument:
    """A YAML file read with the safe loader, plus its node tree for locating problems by line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.node = compose_text(read_text(path))  # composed once; the data is built from it
        self.data: Any = construct(self.node)

    def line_of(self, loc: tuple[int | str, ...]) -> int | None:
        """The 1-based line of the value at ``loc`` (or of its nearest existing parent)."""
        node = self.node
        line = None if node is None else node.start_mark.line + 1
        for key in loc:
            child = _child(node, key)
            if child is None:
                break
            node, line = child, child.start_mark.line + 1
        return line


def _child(node: yaml.Node | None, key: int | str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == key:
                return cast(yaml.Node, value_node)
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
        return cast(yaml.Node, node.value[key])
    return None


def read_yaml(path: Path, problems: list[RuleProblem]) -> YamlDocument | None:
    """Read ``path`` with the safe loader; a syntax error becomes a problem with its line."""
    try:
        return YamlDocument(path)
    except yaml.MarkedYAMLError as error:
        line = error.problem_mark.line + 1 if error.problem_mark else None
        if isinstance(error, YamlLimitError):
            problems.append(RuleProblem(str(path), line, None, "yaml-limit", str(error.problem)))
        else:
            problems.append(RuleProblem(str(path), line, None, "yaml", f"not valid YAML: {shorten(error.problem)}"))
    except FileTooLarge as error:
        problems.append(RuleProblem(str(path), None, None, "yaml-limit", str(error)))
    except UnicodeDecodeError as error:
        problems.append(RuleProblem(str(path), None, None, "yaml", f"not UTF-8 text (byte {error.start:,})"))
    except (OSError, ValueError, OverflowError, yaml.YAMLError) as error:
        problems.append(RuleProblem(str(path), None, None, "yaml", f"cannot read the file: {shorten(error)}"))
    return None


def shorten(text: object, limit: int = 200) -> str:
    """A message from a parser, cut so a long value it quotes cannot swamp the error."""
    words = without_id_numbers(str(text))  # a parser quotes what it read, which may be an identity number
    return words if len(words) <= limit else words[: limit - 1] + "…"


def validate(model: type[M], doc: YamlDocument, problems: list[RuleProblem]) -> M | None:
    """Check ``doc`` against ``model``; each schema error becomes a problem with file, line and rule id."""
    try:
        return model.model_validate(doc.data)
    except ValidationError as error:
        for record in error.errors(include_url=False):
            loc = record["loc"]
            rule_id = _rule_id_at(doc.data, loc)
            where = shorten(".".join(str(part) for part in loc) or "(file)", QUOTE_CHARS)
            problems.append(
                RuleProblem(str(doc.path), doc.line_of(loc), rule_id, "schema", f"{where}: {record['msg']}")
            )
    return None


def _rule_id_at(data: Any, loc: tuple[int | str, ...]) -> str | None:
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        try:
            rule_id = data["rules"][loc[1]].get("id")
        except (AttributeError, IndexError, KeyError, TypeError):
            return None
        return rule_id if isinstance(rule_id, str) else None
    return None


def yaml_files(folder: Path) -> Iterator[Path]:
    """The ``*.yaml`` files of a folder, in name order (so loading is deterministic)."""
    yield from sorted(p for p in folder.iterdir() if p.suffix in {".yaml", ".yml"})
