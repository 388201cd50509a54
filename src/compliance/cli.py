"""The command line, thin over the library.

    compliance evaluate CAMPAIGN.json [--stage publish|payout] [--json] [--blacklist FILE ...]
    compliance score EXPORT -o DECISIONS --stage publish|payout [--mapping FILE] [--model FILE] [--keep COL,...]
    compliance rules [--ruleset ID] [--stage STAGE] [--json]
    compliance coverage [-o FILE]

Exit codes (from sysexits, so a scheduler can act on them): 0 a decision or listing was produced,
whatever the outcome; 2 the command line is wrong; 65 the campaign is not readable (``score``: some
records could not be read; every record still has its row in the output, marked ``review`` with its
error); 66 an input file is missing (``score``: or the export was refused whole, and no decisions file
was written); 78 the rules, parameters, mapping, model or blacklist could not be used; 141 standard
output was closed early (``| head``), nothing else went wrong.
"""

from __future__ import annotations

import argparse
import codecs
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from compliance import _yaml
from compliance._evaluate import evaluate
from compliance._version import __version__
from compliance._vocabulary import STAGES
from compliance.blacklist import Blacklist
from compliance.errors import BlacklistError, CampaignError, FieldProblem, RuleFileError, RulesetNotFound
from compliance.rules._catalog import Catalog
from compliance.rules._coverage import coverage_markdown
from compliance.rules._ruleset import Ruleset

EX_OK, EX_USAGE, EX_DATAERR, EX_NOINPUT, EX_CONFIG = 0, 2, 65, 66, 78
EX_PIPE = 141
"""128 + SIGPIPE, as a shell reports a command whose reader went away (``compliance rules | head``)."""
SCORE_EXIT_CODES = f"""exit codes:
  {EX_OK}    every record was read and has its decision (whatever the outcomes)
  {EX_USAGE}    the command line is wrong
  {EX_DATAERR}   some records could not be read: each still has its row, review, with its error
  {EX_NOINPUT}   the export is missing, or was refused whole (not a table, unknown columns, damaged):
       no decisions file is written
  {EX_CONFIG}   the rules, parameters, mapping, model or blacklist could not be used
  {EX_PIPE}  standard output was closed early (e.g. | head)"""
KEY_ENV = "COMPLIANCE_BLACKLIST_KEY"


class _Exit(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.run(args))
        sys.stdout.flush()
    except _Exit as stop:
        print(f"compliance: {stop}", file=sys.stderr)
        return stop.code
    except BrokenPipeError:  # the reader of standard output went away (| head): stop quietly, as CLIs do
        _silence_stdout()
        return EX_PIPE
    return code


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so the interpreter's last flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (a test's capture): nothing to silence
        pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="compliance", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"compliance {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    ev = commands.add_parser("evaluate", help="check one campaign (a JSON file, or - for standard input)")
    ev.add_argument("campaign", help="campaign JSON file, or - to read standard input")
    ev.add_argument("--stage", choices=STAGES, default="publish", help="default: publish")
    ev.add_argument("--json", action="store_true", help="print the decision as JSON instead of text")
    _ruleset_options(ev)
    ev.add_argument("--blacklist", type=Path, help="blacklist file (keyed hashes) written by Blacklist.save")
    ev.add_argument("--blacklist-key-file", type=Path, help=f"file holding the blacklist key (else ${KEY_ENV})")
    ev.set_defaults(run=_evaluate)

    sc = commands.add_parser(
        "score",
        help="check every campaign of an export (CSV, Parquet, JSON Lines)",
        description="Check every campaign of an export and write one decision per record, with a provenance "
        "sidecar (DECISIONS.provenance.json) and a summary.",
        epilog=SCORE_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sc.add_argument("export", type=Path, help="the export: .csv/.tsv (UTF-8 or GB18030), .parquet, .jsonl")
    sc.add_argument("-o", "--output", type=Path, required=True, help="the decisions file to write")
    sc.add_argument("--stage", choices=STAGES, required=True, help="the stage every campaign is checked at")
    sc.add_argument("--mapping", help="a mapping file (or a shipped mapping's name) for the export's own columns")
    sc.add_argument("--format", choices=("csv", "parquet", "jsonl"), help="output format (default: by suffix)")
    sc.add_argument("--input-format", choices=("csv", "parquet", "jsonl"), help="input format (default: by suffix)")
    sc.add_argument("--encoding", help="the export's text encoding (default: UTF-8 if it decodes, else GB18030)")
    sc.add_argument(
        "--output-encoding", default="utf-8", help="text encoding of a CSV/JSONL output (utf-8-sig for Excel)"
    )
    sc.add_argument("--chunk-rows", type=int, help="records per chunk (bounds memory; default 10,000)")
    risk = sc.add_mutually_exclusive_group()
    risk.add_argument("--model", type=Path, help="a model file from `compliance train` (default: the shipped model)")
    risk.add_argument("--no-model", action="store_true", help="do not score risk (rules only)")
    sc.add_argument(
        "--model-key-file",
        type=Path,
        help="file holding the key the --model file was signed with (compliance train --signing-key-file); "
        "with it, an unsigned model file is refused",
    )
    sc.add_argument(
        "--keep",
        action="append",
        default=[],
        metavar="COL[,COL]",
        help="carry these export columns, as text, into the decisions file (after its own columns); repeatable",
    )
    sc.add_argument("--summary-json", type=Path, help="also write the closing summary as JSON to this file")
    sc.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bar (default: on a terminal)"
    )
    _ruleset_options(sc)
    sc.add_argument("--blacklist", type=Path, help="blacklist file (keyed hashes) written by Blacklist.save")
    sc.add_argument("--blacklist-key-file", type=Path, help=f"file holding the platform key (else ${KEY_ENV})")
    sc.set_defaults(run=_score)

    rules = commands.add_parser("rules", help="list rules with the clauses they cite")
    rules.add_argument("--stage", choices=STAGES)
    rules.add_argument("--json", action="store_true")
    _ruleset_options(rules)
    rules.set_defaults(run=_rules)

    train = commands.add_parser("train", help="train a risk model (the default model's recipe, or on an export)")
    source = train.add_mutually_exclusive_group(required=True)
    source.add_argument("export", nargs="?", type=Path, help="a Parquet or JSON Lines export of flat campaign rows")
    source.add_argument("--synthetic", action="store_true", help="train on synthetic campaigns (the default model)")
    train.add_argument("--label", help="the export's 0/1 column: 1 = review found the campaign malicious")
    train.add_argument("--mode", choices=("supervised", "unsupervised"), default="supervised")
    train.add_argument("--rows", type=int, help="synthetic campaigns to generate (default 500,000)")
    train.add_argument("--seed", type=int, help="seed for the synthetic campaigns")
    train.add_argument("--name", help="the model's name, recorded on every decision")
    train.add_argument("-o", "--output", type=Path, required=True, help="the model file to write (.zip)")
    train.add_argument(
        "--signing-key-file", type=Path, help="sign the model file with the platform key held in this file"
    )
    train.set_defaults(run=_train)

    cov = commands.add_parser("coverage", help="write the clause coverage table (Markdown)")
    cov.add_argument("-o", "--output", type=Path, help="write to this file instead of standard output")
    cov.set_defaults(run=_coverage)
    return parser


def _ruleset_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ruleset", help="ruleset id (e.g. convention-2.0); default: chosen by the event's date")
    parser.add_argument(
        "--rules",
        type=Path,
        action="append",
        default=[],
        help="add a platform ruleset (folder or single file); repeatable",
    )
    parser.add_argument(
        "--clauses", type=Path, action="append", default=[], help="add a clause file cited by --rules; repeatable"
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a parameter, e.g. max_target_amount=400000; repeatable",
    )


def _catalog(args: argparse.Namespace) -> Catalog:
    try:
        catalog = Catalog.default()
        if args.rules or args.clauses:
            catalog = catalog.with_rules(*_existing(args.rules), clauses=_existing(args.clauses))
        if args.param:
            catalog = catalog.with_parameters(dict(_param(p) for p in args.param))
    except RuleFileError as error:
        raise _Exit(EX_CONFIG, str(error)) from None
    return catalog


def _param(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise _Exit(EX_USAGE, f"--param takes NAME=VALUE, got {text!r}")
    try:
        return name.strip(), _yaml.load_text(value)
    except yaml.YAMLError as error:
        raise _Exit(EX_USAGE, f"--param {name.strip()}: not a YAML value: {str(error).splitlines()[0]}") from None


def _existing(paths: list[Path]) -> list[Path]:
    for path in paths:
        if not path.exists():
            raise _Exit(EX_NOINPUT, f"{path}: no such file or folder")
    return paths


def _chosen(catalog: Catalog, ruleset_id: str | None) -> Catalog | Ruleset:
    if ruleset_id is None:
        return catalog
    try:
        return catalog.get(ruleset_id)
    except RulesetNotFound as error:
        raise _Exit(EX_CONFIG, str(error)) from None


def _evaluate(args: argparse.Namespace) -> int:
    data = _read_campaign(args.campaign)
    ruleset = _chosen(_catalog(args), args.ruleset)
    blacklist = _blacklist(args, _key(args)) if args.blacklist else None
    try:
        decision = evaluate(data, stage=args.stage, ruleset=ruleset, blacklist=blacklist)
    except CampaignError as error:
        raise _Exit(EX_DATAERR, f"{args.campaign}: {error}") from None
    except RulesetNotFound as error:
        raise _Exit(EX_CONFIG, str(error)) from None
    print(decision.model_dump_json(indent=2) if args.json else str(decision))
    return EX_OK


def _score(args: argparse.Namespace) -> int:
    from compliance.batch._frame import OUTPUT_COLUMNS
    from compliance.batch._score import CHUNK_ROWS, HEAD_COLUMNS, output_format, provenance_path, score_file
    from compliance.errors import ExportError, MappingError

    _existing([args.export])
    chunk_rows = CHUNK_ROWS if args.chunk_rows is None else args.chunk_rows
    if chunk_rows < 1:
        raise _Exit(EX_USAGE, "--chunk-rows must be at least 1")
    keep = [name.strip() for given in args.keep for name in given.split(",") if name.strip()]
    taken = sorted({name for name in keep if name in HEAD_COLUMNS or name in OUTPUT_COLUMNS or keep.count(name) > 1})
    if taken:
        raise _Exit(EX_USAGE, f"--keep {', '.join(taken)}: the decisions file already has a column of that name")
    if args.encoding is not None:
        try:
            codecs.lookup(args.encoding)
        except LookupError:
            raise _Exit(EX_USAGE, f"--encoding {args.encoding}: not an encoding Python knows") from None
    try:
        output_format(args.output, args.format)
    except ValueError as error:
        raise _Exit(EX_USAGE, str(error)) from None
    ruleset = _chosen(_catalog(args), args.ruleset)
    key = _key(args)  # the platform key also hashes raw identity numbers in the export
    blacklist = _blacklist(args, key) if args.blacklist else None
    model = _model(args)
    try:
        summary = score_file(
            args.export,
            args.output,
            stage=args.stage,
            mapping=args.mapping,
            input_format=args.input_format,
            encoding=args.encoding,
            output_format_name=args.format,
            output_encoding=args.output_encoding,
            ruleset=ruleset,
            blacklist=blacklist,
            model=model,
            id_key=key,
            chunk_rows=chunk_rows,
            progress=args.progress,
            keep=keep,
            model_file=args.model,
            blacklist_file=args.blacklist if blacklist is not None else None,
            options=_options(args),
        )
    except MappingError as error:
        raise _Exit(EX_CONFIG, str(error)) from None
    except FileNotFoundError as error:
        raise _Exit(EX_NOINPUT, _named(args.export, str(error))) from None
    except (ExportError, ValueError, UnicodeDecodeError, OSError, EOFError) as error:
        raise _Exit(EX_NOINPUT, _named(args.export, _command_line_words(str(error)))) from None
    print(f"wrote {args.output} and {provenance_path(args.output)}")
    print(summary.text())
    if args.summary_json:
        args.summary_json.write_text(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2) + "\n", "utf-8")
    return EX_DATAERR if summary.error_rows else EX_OK


def _model(args: argparse.Namespace) -> Any:
    """The risk model: none (--no-model), a file from `compliance train` (--model), else the shipped one."""
    if args.model is None and args.model_key_file is not None:
        raise _Exit(EX_USAGE, "--model-key-file checks the signature of a --model file; give --model")
    if args.no_model:
        return None
    if args.model is None:
        return "default"
    from compliance.errors import ModelFileError
    from compliance.risk import load_model

    key = None if args.model_key_file is None else _key_file(args.model_key_file)
    _existing([args.model])
    try:
        return load_model(args.model, signing_key=key)
    except ModelFileError as error:
        raise _Exit(EX_CONFIG, _named(args.model, str(error))) from None


def _options(args: argparse.Namespace) -> dict[str, Any]:
    """The command's options as given, for the provenance sidecar (paths as text; no key is among them)."""

    def plain(value: Any) -> Any:
        if isinstance(value, list):
            return [plain(item) for item in value]
        return str(value) if isinstance(value, Path) else value

    return {name: plain(value) for name, value in sorted(vars(args).items()) if name != "run"}


def _named(path: Path, message: str) -> str:
    """``message`` naming the file once: the library's messages mostly name it already."""
    return message if message.startswith(f"{path}:") else f"{path}: {message}"


_LIBRARY_WORDS = (
    ("pass encoding=", "pass --encoding"),
    ("pass format=", "pass --input-format"),
    ("pass id_key, the platform's blacklist key,", f"give the platform key (--blacklist-key-file or ${KEY_ENV})"),
)


def _command_line_words(message: str) -> str:
    """A library message in the command line's words: its options, not the function's parameters."""
    for python, option in _LIBRARY_WORDS:
        message = message.replace(python, option)
    return message


def _read_campaign(name: str) -> Any:
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise _Exit(EX_NOINPUT, f"{name}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise _Exit(EX_DATAERR, f"{name}: cannot read the file ({type(error).__name__})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        problem = FieldProblem(
            "(file)", "json", f"not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}"
        )
        raise _Exit(EX_DATAERR, f"{name}: {CampaignError([problem])}") from None


def _key(args: argparse.Namespace) -> str | None:
    """The platform key: from --blacklist-key-file, else ${KEY_ENV}, else none."""
    if args.blacklist_key_file is not None:
        return _key_file(args.blacklist_key_file)
    return os.environ.get(KEY_ENV) or None


def _key_file(path: Path) -> str:
    """A key held in a file (UTF-8; surrounding white space, such as a final newline, is not part of it)."""
    try:
        return _existing([path])[0].read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise _Exit(EX_CONFIG, f"{path}: cannot read the key file ({type(error).__name__})") from None


def _blacklist(args: argparse.Namespace, key: str | None) -> Blacklist:
    if key is None:
        raise _Exit(EX_CONFIG, f"--blacklist needs the platform key: --blacklist-key-file or ${KEY_ENV}")
    _existing([args.blacklist])
    try:
        return Blacklist.load(args.blacklist, key=key)
    except BlacklistError as error:
        raise _Exit(EX_CONFIG, str(error)) from None


def _rules(args: argparse.Namespace) -> int:
    catalog = _catalog(args)
    rulesets = [_chosen(catalog, args.ruleset)] if args.ruleset else list(catalog)
    listing: list[dict[str, Any]] = []
    for ruleset in rulesets:
        assert isinstance(ruleset, Ruleset)
        rules = ruleset.rules if args.stage is None else ruleset.rules_for(args.stage)
        listing.append(
            {
                "ruleset": ruleset.id,
                "revision": ruleset.revision,
                "effective_from": ruleset.effective_from.isoformat(),
                "parameters": {n: _plain(p.value) for n, p in ruleset.parameters.items()},
                "rules": [
                    {
                        "id": r.id,
                        "title": r.title.en,
                        "title_zh": r.title.zh,
                        "stages": sorted(r.stages),
                        "outcome_on_fail": r.outcome,
                        "severity": r.severity,
                        "cites": [{"clause": c.clause_id, "grade": c.grade} for c in r.citations],
                    }
                    for r in rules
                ],
            }
        )
    if args.json:
        print(json.dumps(listing, ensure_ascii=False, indent=2))
        return EX_OK
    for entry in listing:
        print(f"{entry['ruleset']} (revision {entry['revision']}, in force from {entry['effective_from']})")
        for name, value in entry["parameters"].items():
            print(f"  param {name} = {value}")
        for rule in entry["rules"]:
            cites = ", ".join(f"{c['clause']} [{c['grade']}]" for c in rule["cites"])
            print(f"  {rule['id']:<44} {'/'.join(rule['stages']):<15} {rule['outcome_on_fail']:<24} {rule['title']}")
            print(f"  {'':<44} cites {cites}")
        print()
    return EX_OK


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value if isinstance(value, (bool, str)) else str(value)


def _train(args: argparse.Namespace) -> int:
    from compliance.errors import ModelFileError
    from compliance.risk import RiskModel
    from compliance.risk import _train as training

    key = None if args.signing_key_file is None else _key_file(args.signing_key_file)  # before minutes of training

    if args.synthetic:
        if args.mode != "supervised" or args.label:
            raise _Exit(EX_USAGE, "--synthetic trains the supervised default model; it takes no --label or --mode")
        rows = args.rows or training.DEFAULT_ROWS
        seed = training.DEFAULT_SEED if args.seed is None else args.seed
        model = training.train_synthetic(rows, seed, **({"name": args.name} if args.name else {}))
        card = {**training.SYNTHETIC_CARD, "training_rows": rows, "training_seed": seed}
    else:
        frame = _read_export(_existing([args.export])[0])
        if args.mode == "supervised" and not args.label:
            raise _Exit(EX_USAGE, "a supervised model needs --label, the export's 0/1 column")
        try:
            params = {"mode": args.mode, "keep_history": True, **({"name": args.name} if args.name else {})}
            model = (
                training.train_from_export(frame, args.label, **params)
                if args.label
                else RiskModel(**params).fit(frame)
            )
        except (TypeError, ValueError) as error:
            raise _Exit(EX_DATAERR, f"{args.export}: {error}") from None
        card = {
            "trained_on": f"the export {args.export.name} ({len(frame):,} campaigns)",
            "training_rows": len(frame),
            "intended_use": "This platform's own review queue.",
            "limits": training.SYNTHETIC_CARD["limits"][1:],
        }
    try:
        written = training.save_with_card(
            model, args.output, card, trained=training.DEFAULT_DATE if args.synthetic else None, signing_key=key
        )
    except ModelFileError as error:
        raise _Exit(EX_CONFIG, _named(args.output, str(error))) from None
    print(
        f"wrote {args.output}: {written['name']}@{written['version']} ({written['mode']}); thresholds "
        f"elevated {written['thresholds']['elevated']:.4g}, high {written['thresholds']['high']:.4g}"
    )
    return EX_OK


def _read_export(path: Path) -> Any:
    import pandas as pd

    try:
        if path.suffix == ".parquet":
            return _lists_as_tuples(pd.read_parquet(path))
        if path.suffix in (".jsonl", ".ndjson"):
            return _lists_as_tuples(pd.read_json(path, lines=True))
    except (OSError, ValueError, ImportError) as error:
        raise _Exit(EX_DATAERR, f"{path}: cannot read the export ({error})") from None
    raise _Exit(EX_USAGE, f"{path}: train reads Parquet (.parquet) or JSON Lines (.jsonl) exports")


def _lists_as_tuples(frame: Any) -> Any:
    """List columns as the schema holds them: pandas reads a Parquet list as a numpy array, JSON as a list."""
    import numpy as np

    for name in ("medical.document_hashes", "other_platform_campaign_ids"):
        if name in frame:
            frame[name] = [tuple(v) if isinstance(v, (np.ndarray, list)) else v for v in frame[name]]
    return frame


def _coverage(args: argparse.Namespace) -> int:
    text = coverage_markdown()
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        print(text, end="")
    return EX_OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
