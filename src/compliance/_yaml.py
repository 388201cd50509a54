"""The one door through which `compliance` reads YAML: safe, bounded, and short in its errors.

Rule files, clause files and mapping files are written by people other than the ones who run them, so
reading one must not be a way to exhaust the machine:

- only the safe loader's plain types (no tags that build Python objects);
- no aliases (``*name``): an alias expands to a copy of its anchor's value, so a few hundred bytes of
  nested aliases can stand for gigabytes ("billion laughs"). Anchors alone are harmless and allowed;
- at most :data:`MAX_BYTES` per file and :data:`MAX_DEPTH` levels of nesting (the composer recurses);
- a value quoted back in an error is cut to :data:`QUOTE_CHARS` characters (:func:`quote`).

>>> load_text("a: [1, 2]")
{'a': [1, 2]}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from compliance.errors import without_id_numbers

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "QUOTE_CHARS",
    "FileTooLarge",
    "YamlLimitError",
    "compose_text",
    "construct",
    "load_text",
    "quote",
    "read_text",
]

MAX_BYTES = 1 << 20
"""The largest YAML file read (1 MiB); the shipped files are under 11 KB."""
MAX_DEPTH = 64
"""The deepest nesting of mappings and sequences read (the shipped files nest 5 deep)."""
QUOTE_CHARS = 60
"""The most characters of a file's value quoted back in an error message."""


class YamlLimitError(yaml.MarkedYAMLError):
    """A file breaks one of this module's limits (an alias, too deep); carries the line like a syntax error."""


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


class FileTooLarge(ValueError):
    """A file over :data:`MAX_BYTES`: refused before it is read."""


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
