"""Batch throughput and memory, beside rule-engine per row and hand-written numpy masks, in one run.

    python benchmarks/batch.py                       # 10^4, 10^5, 10^6 campaigns, then a 10^7-row CSV
    python benchmarks/batch.py --sizes 10000 --csv-rows --output -     # no CSV part (its last figures are kept)

Writes its section of docs/performance.md (between the ``batch`` markers). Paths, on the same
generated campaigns (``compliance.risk.synthetic``, payout stage, ruleset
``convention-2.0+charity-law-2024``, a blacklist holding some of the campaigns' hashes):

- ``rule-engine per row``: each rule's conditions by ``rule_engine.Rule.matches`` on one campaign's
  facts, row after row (campaigns and facts built beforehand, not timed: the most favourable case);
- ``numpy masks``: the same rules written by hand as boolean masks over the same validated columns,
  null handling included (the speed of light for this data layout);
- ``rules (vector)``: every rule's status by the compiled column code over the validated columns.
  These three "rules only" paths start from the same prepared facts: campaigns validated and their
  identity hashes looked up in the blacklist beforehand (untimed), so they compare rule evaluation alone;
- ``evaluate_frame, rules only``: the whole batch call without risk, from the DataFrame as given
  (validation, ruleset by date, rules, outcome and obligations per row);
- ``evaluate_frame, full``: the same with the default risk model (features, score, band, reasons).

Peak extra memory is the tracemalloc peak of a separate, untimed run of each path, beside the input
frame's own size (``DataFrame.memory_usage(deep=True)``). The CSV part scores a file of flat rows with
``compliance score`` in a child process, chunk by chunk, and reads the child's peak resident memory.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import compliance
from compliance.batch import _frame
from compliance.batch._score import CHUNK_ROWS, provenance_path
from compliance.batch._table import Table, build_table
from compliance.blacklist import Blacklist
from compliance.campaign import DISCLOSURE_ITEMS
from compliance.risk import synthetic
from compliance.rules import Catalog
from compliance.rules import _columns as columns

ROOT = Path(__file__).resolve().parent.parent
RULESET = "convention-2.0+charity-law-2024"
STAGE = "payout"
KEY = "benchmark key - not a secret"
START, END = "<!-- batch:start -->", "<!-- batch:end -->"


def campaigns(n: int, seed: int = 20261122) -> pd.DataFrame:
    return synthetic.generate(n, seed=seed).drop(columns=list(synthetic.LABEL_COLUMNS))


def blacklist_for(frame: pd.DataFrame) -> Blacklist:
    hashes = frame["initiator.id_number_hash"].dropna().unique()
    return Blacklist(sorted(str(h) for h in hashes[::50]), key=KEY)


# -- the paths ---------------------------------------------------------------------------------------


def prepared(table: Table, blacklist: Blacklist) -> Any:
    """The values rules read, with the blacklist already looked up and the unreadable rows known: the same
    work done beforehand as for the rule-engine baseline, whose facts carry their blacklist match."""
    source = _frame._RuleColumns(table, blacklist, None, STAGE)
    for role in ("initiator", "patient", "payee"):
        source.get(f"blacklist.{role}")
    source.under = table.ok  # type: ignore[attr-defined]  # the rows that were read
    return source


def vector_statuses(source: Any) -> np.ndarray:
    """Every rule's status by the compiled column code (risk read as absent, as with model=None)."""
    rules = Catalog.default().get(RULESET).rules_for(STAGE)
    under = source.under
    return np.column_stack([columns.status(r, source, STAGE, under) for r in rules])


def numpy_statuses(source: Any) -> np.ndarray:
    """The same rules as hand-written masks over the validated columns (codes: 1 pass, 2 fail, 3 n/a, 4 n/e)."""
    table = source.table
    c = table.columns
    n = table.n
    payout = table.payout

    def listed(role: str) -> tuple[np.ndarray, np.ndarray]:
        match = source.get(f"blacklist.{role}")  # looked up beforehand (see prepared)
        return match.values, match.null

    def status(fail: np.ndarray, unknown: np.ndarray | None = None, applies: np.ndarray | None = None) -> np.ndarray:
        out = np.where(fail, 2, 1).astype(np.int8)
        if unknown is not None:
            out[unknown] = 4
        if applies is not None:
            out[~applies] = 3
        return out

    def not_true(path: str) -> tuple[np.ndarray, np.ndarray]:
        return ~c[path].values, c[path].null

    bl_initiator, u_initiator = listed("initiator")
    bl_patient, u_patient = listed("patient")
    bl_payee, u_payee = listed("payee")
    payee_column = c["payout.payee"]  # dictionary-encoded, as the compiled rules read it: compare codes

    def payee_is(text: str) -> np.ndarray:
        assert payee_column.codes is not None
        return payee_column.codes == payee_column.spellings.get(text, -2)  # type: ignore[no-any-return]

    relative_or_other = payout & (payee_is("close_relative") | payee_is("other"))
    raised = c["raised_amount"].values
    incomplete = np.zeros(n, bool)
    for item in DISCLOSURE_ITEMS:
        incomplete |= c[f"disclosure.{item}"].null
    route_applies = (raised >= 30_000_000) | ((raised >= 5_000_000) & incomplete)
    plan = (
        c["payout.batched"].values
        & ~c["payout.batched"].null
        & c["documents.medical_plan"].values
        & ~c["documents.medical_plan"].null
        & c["documents.cost_list"].values
        & ~c["documents.cost_list"].null
        & c["documents.plan_published"].values
        & ~c["documents.plan_published"].null
    )
    route_fail = ~(payee_is("hospital_account") | plan)
    permitted = payee_is("patient") | payee_is("close_relative") | payee_is("hospital_account")
    f_initiator, u_real_i = not_true("initiator.real_name_verified")
    f_patient, u_real_p = not_true("patient.real_name_verified")
    return np.column_stack(
        [
            status(bl_initiator, u_initiator),
            status(bl_patient, u_patient),
            status(bl_payee, u_payee, relative_or_other),
            status(f_initiator, u_real_i),
            status(f_patient, u_real_p),
            status(route_fail, ~payout & route_applies, route_applies),
            status(~permitted, ~payout),
            np.full(n, 3, np.int8),  # the risk rule does not apply without a risk score (model=None)
        ]
    )


def rule_engine_rate(source: Any, sample: int) -> float:
    """Rows per second for rule-engine on every rule, facts prepared beforehand (not timed)."""
    rules = Catalog.default().get(RULESET).rules_for(STAGE)
    table = source.table
    facts = [source.facts(i) for i in range(min(sample, table.n))]
    started = time.perf_counter()
    for fact in facts:
        for rule in rules:
            rule.reference_status(fact)
    return len(facts) / (time.perf_counter() - started)


def timed(run: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def peak_memory(run: Callable[[], Any]) -> int:
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    result = run()
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    del result
    return peak


def measure(frame: pd.DataFrame, sample: int) -> dict[str, Any]:
    n = len(frame)
    blacklist = blacklist_for(frame)
    table = build_table(frame)
    source = prepared(table, blacklist)
    vector, masks = vector_statuses(source), numpy_statuses(source)
    if not np.array_equal(vector, masks):
        raise SystemExit(
            f"the hand-written masks disagree with the compiled rules at {np.argwhere(vector != masks)[:5]}"
        )
    repeat = 3 if n <= 100_000 else 2

    def rules_only() -> Any:
        return compliance.evaluate_frame(frame, stage=STAGE, ruleset=RULESET, blacklist=blacklist, model=None)

    def full() -> Any:
        return compliance.evaluate_frame(frame, stage=STAGE, ruleset=RULESET, blacklist=blacklist)

    full()  # load the default model once, outside the timings
    rows: dict[str, Any] = {"n": n, "input_bytes": int(frame.memory_usage(deep=True).sum())}
    rows["rule_engine"] = rule_engine_rate(source, sample)
    rows["masks"] = n / timed(lambda: numpy_statuses(source), repeat)
    rows["vector"] = n / timed(lambda: vector_statuses(source), repeat)
    rows["frame_rules"] = n / timed(rules_only, repeat)
    rows["frame_full"] = n / timed(full, repeat)
    rows["mem_masks"] = peak_memory(lambda: numpy_statuses(source))
    rows["mem_vector"] = peak_memory(lambda: vector_statuses(source))
    rows["mem_frame_rules"] = peak_memory(rules_only)
    rows["mem_frame_full"] = peak_memory(full)
    return rows


# -- a CSV larger than one chunk, scored by the CLI -------------------------------------------------


def write_csv(path: Path, rows: int, block: pd.DataFrame) -> None:
    """``rows`` flat campaign rows as CSV, repeating ``block`` with fresh campaign ids."""
    written = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        part = 0
        while written < rows:
            take = block.iloc[: rows - written].copy()
            take["campaign_id"] = [f"csv{part:04d}-{i:07d}" for i in range(len(take))]
            for column in ("medical.document_hashes", "other_platform_campaign_ids"):  # lists as a;b;c
                take[column] = take[column].map(";".join)
            take.to_csv(out, index=False, header=written == 0, lineterminator="\n")
            written += len(take)
            part += 1


def score_csv(path: Path, chunk_rows: int) -> dict[str, Any]:
    output = path.with_suffix(".decisions.csv")
    arguments = [
        "score",
        str(path),
        "-o",
        str(output),
        "--stage",
        STAGE,
        "--ruleset",
        RULESET,
        "--chunk-rows",
        str(chunk_rows),
        "--no-progress",
    ]
    # the child reports its own peak resident memory (RUSAGE_SELF) when the command returns
    program = (
        "import resource, sys\n"
        "from compliance.cli import main\n"
        f"code = main({arguments!r})\n"
        "print('peak_kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    command = [sys.executable, "-c", program]
    started = time.perf_counter()
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if finished.returncode not in (0, 65):
        raise SystemExit(f"compliance score failed ({finished.returncode}): {finished.stderr[-2000:]}")
    peak_kib = int(finished.stderr.rsplit("peak_kib", 1)[1].split()[0])
    out_rows = sum(1 for _ in output.open(encoding="utf-8")) - 1
    output.unlink()
    provenance_path(output).unlink(missing_ok=True)
    return {"seconds": seconds, "peak_rss": peak_kib * 1024, "file_bytes": path.stat().st_size, "out_rows": out_rows}


# -- report -----------------------------------------------------------------------------------------


def _mb(value: float) -> str:
    return f"{value / 2**20:,.0f} MB"


def report(results: list[dict[str, Any]], csv: list[tuple[int, dict[str, Any]]], chunk_rows: int) -> str:
    lines = [
        START,
        "## Batch: `evaluate_frame` and `compliance score`",
        "",
        f"Generated by `python benchmarks/batch.py` on {platform.machine()} with {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}; "
        f"payout stage, ruleset `{RULESET}`, synthetic campaigns. Rates are the best of 2–3 runs; "
        "this machine's timings drift by ±30 %, so read the ratios, which come from the same run.",
        "",
        "| campaigns | rule-engine per row | numpy masks | rules (vector) | vector vs masks | vector vs rule-engine "
        "| evaluate_frame rules only | evaluate_frame full |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['n']:,} | {r['rule_engine']:,.0f}/s | {r['masks']:,.0f}/s | {r['vector']:,.0f}/s "
            f"| {_relative(r['masks'] / r['vector'])} | {r['vector'] / r['rule_engine']:,.0f}× faster "
            f"| {r['frame_rules']:,.0f}/s | {r['frame_full']:,.0f}/s |"
        )
    lines += [
        "",
        "Peak extra memory (tracemalloc), beside the input frame:",
        "",
        "| campaigns | input frame | numpy masks | rules (vector) | evaluate_frame rules only | evaluate_frame full |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['n']:,} | {_mb(r['input_bytes'])} | {_mb(r['mem_masks'])} | {_mb(r['mem_vector'])} "
            f"| {_mb(r['mem_frame_rules'])} | {_mb(r['mem_frame_full'])} |"
        )
    if csv:
        lines += [
            "",
            f"{CSV_HEADING} of flat rows (chunks of {chunk_rows:,} rows, rules and risk, "
            "output CSV), in a child process; peak resident memory of the whole process:",
            "",
            "| rows | file | time | rows/s | output rows | peak resident memory |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for rows, c in csv:
            lines.append(
                f"| {rows:,} | {_mb(c['file_bytes'])} | {c['seconds']:,.0f} s | {rows / c['seconds']:,.0f}/s "
                f"| {c['out_rows']:,} | {_mb(c['peak_rss'])} |"
            )
    lines += ["", END, ""]
    return "\n".join(lines)


CSV_HEADING = "`compliance score` on CSV files"
KEPT_NOTE = "These CSV figures come from an earlier run of this script; this run did not re-measure them."


def _relative(slowdown: float) -> str:
    """Time of the compiled rules ÷ time of the masks, in words."""
    return f"{slowdown:.2f}× slower" if slowdown >= 1 else f"{1 / slowdown:.2f}× faster"


def write_section(text: str, output: str) -> None:
    if output == "-":
        print(text)
        return
    path = Path(output)
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    if CSV_HEADING not in text and CSV_HEADING in existing:  # not re-measured this run: keep the last figures
        kept = existing.split(CSV_HEADING, 1)[1].split(END, 1)[0].replace(KEPT_NOTE, "").rstrip("\n")
        text = text.replace(f"\n{END}", f"\n{CSV_HEADING}{kept}\n\n{KEPT_NOTE}\n\n{END}", 1)
    if START in existing and END in existing:
        before, rest = existing.split(START, 1)
        after = rest.split(END, 1)[1].lstrip("\n")
        existing = before + text + after
    else:
        existing = existing.rstrip("\n") + "\n\n" + text
    path.write_text(existing, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--csv-rows", type=int, nargs="*", default=[1_000_000, 10_000_000])
    parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS)  # what compliance score uses by default
    parser.add_argument("--rule-engine-sample", type=int, default=3_000)
    parser.add_argument("--output", default=str(ROOT / "docs" / "performance.md"))
    args = parser.parse_args()
    largest = campaigns(max(args.sizes))
    results = []
    for n in args.sizes:
        frame = largest.iloc[:n].copy()
        results.append(measure(frame, args.rule_engine_sample))
        print(results[-1], file=sys.stderr)
    del largest
    csv = []
    if args.csv_rows:
        block = campaigns(100_000, seed=7)
        with tempfile.TemporaryDirectory() as folder:
            for rows in args.csv_rows:
                path = Path(folder) / f"campaigns-{rows}.csv"
                write_csv(path, rows, block)
                csv.append((rows, score_csv(path, args.chunk_rows)))
                print(rows, csv[-1][1], file=sys.stderr)
                path.unlink()
    write_section(report(results, csv, args.chunk_rows), args.output)


if __name__ == "__main__":
    main()
