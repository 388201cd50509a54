"""The clause corpus: one YAML file per source document, each clause with its text, grade and source."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from compliance.decision import Citation, Text
from compliance.errors import RuleFileError, RuleProblem
from compliance.rules._files import ClauseFile, read_yaml, validate, yaml_files

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

    def merged(self, other: Corpus) -> Corpus:
        """This corpus plus ``other``'s clauses; a clause id in both is an error."""
        clashes = sorted(set(self._clauses) & set(other._clauses))
        if clashes:
            raise RuleFileError(
                [RuleProblem(other.files.get(c.split("/")[0], "?"), None, None, "duplicate_id",
                             f"clause {c} is already in the corpus") for c in clashes]
            )
        return Corpus({**self._clauses, **other._clauses}, {**self.documents, **other.documents},
                      {**self.files, **other.files})


def load_corpus(paths: Iterable[Path] | None = None) -> Corpus:
    """Read clause files (default: the shipped corpus); every problem is reported at once."""
    files = list(yaml_files(CLAUSES_DIR)) if paths is None else [Path(p) for p in paths]
    problems: list[RuleProblem] = []
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
            problems.append(RuleProblem(str(path), doc.line_of(("document", "id")), None, "duplicate_id",
                                        f"document {document.id} is already defined in {sources[document.id]}"))
            continue
        documents[document.id], sources[document.id] = document.title, str(path)
        for index, clause in enumerate(parsed.clauses):
            line = doc.line_of(("clauses", index, "id"))
            if not clause.id.startswith(document.id + "/"):
                problems.append(RuleProblem(str(path), line, None, "clause_id",
                                            f"clause {clause.id} must start with its document id '{document.id}/'"))
            elif clause.id in clauses:
                problems.append(RuleProblem(str(path), line, None, "duplicate_id", f"clause {clause.id} appears twice"))
            else:
                clauses[clause.id] = Citation(
                    document_id=document.id, document_title=document.title, clause_id=clause.id,
                    article=clause.article, topic=clause.topic, text=clause.text, gloss=clause.gloss,
                    grade=clause.grade, source=clause.source,
                )
    if problems:
        raise RuleFileError(problems)
    return Corpus(clauses, documents, sources)
