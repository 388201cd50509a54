"""The clause corpus: one YAML file per source document, each clause with its text, grade and source."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from compliance._yaml import read_yaml, validate, yaml_files
from compliance.decision import Citation, Text
from compliance.errors import RuleFileError, RuleProblem
from compliance.rules._files import ClauseFile

CLAUSES_DIR = Path(__file__).parent / "clauses"


class Corpus(Mapping[str, Citation]):
    """Clauses by id, ready to cite; also the documents they come from."""

    def __init__(self, clauses: Mapping[str, Citation], documents: Mapping[str, Text], files: Mapping[str, str]):
        self._clauses = dict(clauses)
        self.documents = dict(documents)
        """Document titles by document id."""
        self.files = dict(files)
        """The file each document was read from, by document id."""

    def __getitem__(self, clause_id: str) -> Citation:
        return self._clauses[clause_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._clauses)

    def __len__(self) -> int:
        return len(self._clauses)

    def merged(self, other: Corpus, problems: list[RuleProblem]) -> Corpus:
        """This corpus plus ``other``'s documents; a document or clause id in both becomes a problem and
        that document of ``other`` is left out (its other documents still merge, so rules citing them
        are not also reported)."""
        clashing = set()
        for document in sorted(set(self.documents) & set(other.documents)):
            clashing.add(document)
            clauses = sorted(c for c in set(self._clauses) & set(other._clauses) if c.startswith(document + "/"))
            also = f"; clause ids already used: {', '.join(clauses)}" if clauses else ""
            problems.append(
                RuleProblem(
                    other.files[document],
                    None,
                    None,
                    "duplicate_id",
                    f"document {document} is already in the corpus ({self.files[document]}); give it its own id{also}",
                )
            )
        for clause in sorted(set(self._clauses) & set(other._clauses)):
            document = clause.split("/")[0]
            if document not in clashing:
                clashing.add(document)
                problems.append(
                    RuleProblem(
                        other.files.get(document, "?"),
                        None,
                        None,
                        "duplicate_id",
                        f"clause {clause} is already in the corpus",
                    )
                )
        kept = {c: v for c, v in other._clauses.items() if c.split("/")[0] not in clashing}
        documents = {d: t for d, t in other.documents.items() if d not in clashing}
        files = {d: f for d, f in other.files.items() if d not in clashing}
        return Corpus({**self._clauses, **kept}, {**self.documents, **documents}, {**self.files, **files})


def load_corpus(paths: Iterable[Path] | None = None, problems: list[RuleProblem] | None = None) -> Corpus:
    """Read clause files (default: the shipped corpus).

    Every problem is reported at once: raised as :class:`RuleFileError`, or, when a ``problems`` list
    is given, appended to it and the readable clauses returned, so the caller can report them together
    with its own.
    """
    if paths is None:
        return _shipped_corpus()
    return _read_corpus([Path(p) for p in paths], problems)


@functools.cache
def _shipped_corpus() -> Corpus:
    """The shipped clause files, read once per process (a Corpus is immutable)."""
    return _read_corpus(list(yaml_files(CLAUSES_DIR)), None)


def _read_corpus(files: list[Path], problems: list[RuleProblem] | None) -> Corpus:
    collect = problems is not None
    problems = problems if problems is not None else []
    clauses: dict[str, Citation] = {}
    documents: dict[str, Text] = {}
    sources: dict[str, str] = {}
    for path in files:
        doc = read_yaml(path, problems)
        parsed = None if doc is None else validate(ClauseFile, doc, problems)
        if parsed is None or doc is None:
            continue
        document = parsed.document
        if document.id in documents:
            problems.append(
                RuleProblem(
                    str(path),
                    doc.line_of(("document", "id")),
                    None,
                    "duplicate_id",
                    f"document {document.id} is already defined in {sources[document.id]}",
                )
            )
            continue
        documents[document.id], sources[document.id] = document.title, str(path)
        for index, clause in enumerate(parsed.clauses):
            line = doc.line_of(("clauses", index, "id"))
            if not clause.id.startswith(document.id + "/"):
                problems.append(
                    RuleProblem(
                        str(path),
                        line,
                        None,
                        "clause_id",
                        f"clause {clause.id} must start with its document id '{document.id}/'",
                    )
                )
            elif clause.id in clauses:
                problems.append(RuleProblem(str(path), line, None, "duplicate_id", f"clause {clause.id} appears twice"))
            else:
                clauses[clause.id] = Citation(
                    document_id=document.id,
                    document_title=document.title,
                    clause_id=clause.id,
                    article=clause.article,
                    topic=clause.topic,
                    text=clause.text,
                    gloss=clause.gloss,
                    grade=clause.grade,
                    source=clause.source,
                )
    if problems and not collect:
        raise RuleFileError(problems)
    return Corpus(clauses, documents, sources)
