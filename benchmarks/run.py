"""Single-decision latency, beside rule-engine on the same rules, in one run. Writes docs/performance.md.

    python benchmarks/run.py                 # 10,000 generated campaigns per stage
    python benchmarks/run.py --campaigns 20000 --output -

The paths are timed per campaign, taking turns over small blocks so the machine's drift falls on all
of them alike:

- ``evaluate``: ``compliance.evaluate(dict, stage=..., blacklist=...)`` — validation of the raw dict,
  ruleset choice by date, blacklist hashing, every rule, the Decision with its digest;
- ``compiled rules``: only the rule statuses, by the compiled closures, on already-built facts;
- ``rule-engine``: the same rules' conditions by ``rule_engine.Rule.matches`` on the same facts
  (the baseline: what a platform gets from rule-engine alone).
"""

from __future__ import annotations

import argparse
import gc
import platform
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pydantic
import rule_engine

import compliance
from compliance.blacklist import Blacklist, hash_id_number
from compliance.campaign import DISCLOSURE_ITEMS, Campaign
from compliance.rules import Catalog
from compliance.rules._schema import Facts

ROOT = Path(__file__).resolve().parent.parent
KEY = "benchmark key - not a secret"
LISTED = ["110101198001010000", "440101197505050000"]


def generate(n: int, seed: int = 20260101) -> list[dict[str, Any]]:
    """Campaigns with realistic shapes: mostly complete, some gaps, amounts around the thresholds."""
    rng = random.Random(seed)
    start = datetime(2018, 10, 19)
    out = []
    for i in range(n):
        created = start + timedelta(minutes=rng.randrange(0, 8 * 365 * 24 * 60))
        raised = Decimal(rng.choice([rng.randrange(0, 6_000_000), rng.randrange(0, 40_000_000)])).scaleb(-2)
        answer = lambda: rng.choice([True, False, False, None]) if rng.random() < 0.3 else rng.choice([True, False])  # noqa: E731
        out.append(
            {
                "campaign_id": f"bench-{i:06d}",
                "platform": rng.choice(["水滴筹", "轻松筹", "爱心筹", "360大病筹"]),
                "created_at": created.isoformat(sep=" "),
                "target_amount": str(Decimal(rng.randrange(1_000_000, 80_000_000)).scaleb(-2)),
                "raised_amount": str(raised),
                "initiator": {
                    "real_name_verified": rng.random() > 0.02,
                    "truthfulness_acknowledged": rng.random() > 0.02,
                    "relation_to_patient": rng.choice(["self", "parent", "spouse", "child"]),
                    "id_number": rng.choice(LISTED) if rng.random() < 0.01 else f"1101011980{i:08d}",
                },
                "patient": {"real_name_verified": rng.random() > 0.02, "id_number": f"1101012010{i:08d}"},
                "disclosure": {item: answer() for item in DISCLOSURE_ITEMS},
                "documents": {
                    "medical_proof": rng.random() > 0.03,
                    "medical_plan": rng.random() > 0.5,
                    "cost_list": rng.random() > 0.5,
                    "plan_published": rng.random() > 0.6,
                },
                "payout": {
                    "amount": str(raised),
                    "payee": rng.choice(["patient", "close_relative", "hospital_account"]),
                    "batched": rng.random() < 0.3,
                    "requested_at": (created + timedelta(days=rng.randrange(1, 60))).isoformat(sep=" "),
                },
            }
        )
    return out


def with_hashed_ids(data: dict[str, Any]) -> dict[str, Any]:
    """The same campaign as a platform that hashes identity numbers at its edge would send it."""
    out = {**data, "initiator": dict(data["initiator"]), "patient": dict(data["patient"])}
    for person in ("initiator", "patient"):
        out[person]["id_number_hash"] = hash_id_number(out[person].pop("id_number"), KEY)
    return out


BLOCK = 100


def measure(campaigns: list[dict[str, Any]], stage: str, blacklist: Blacklist, rounds: int) -> dict[str, list[int]]:
    """Per-campaign latencies of each path. The paths take turns over blocks of BLOCK campaigns (each
    path in its own tight loop over the block, as a backend would call it), so drift in the machine's
    speed, which on this VM happens over seconds, falls on all of them alike. Samples are pooled."""
    catalog = Catalog.default()
    prepared = []
    for data in campaigns:
        campaign = Campaign.parse(data)
        event = campaign.payout.requested_at if stage == "payout" and campaign.payout else campaign.created_at
        rules = catalog.for_date(event).rules_for(stage)
        facts = Facts(campaign, stage, blacklist.match(campaign), campaign.disclosure.__dict__)
        prepared.append((data, with_hashed_ids(data), rules, facts))
    clock = time.perf_counter_ns

    def full_hashed(_data: dict[str, Any], hashed: dict[str, Any], _rules: Any, _facts: Facts) -> None:
        compliance.evaluate(hashed, stage=stage, blacklist=blacklist)

    def full_raw(data: dict[str, Any], _hashed: dict[str, Any], _rules: Any, _facts: Facts) -> None:
        compliance.evaluate(data, stage=stage, blacklist=blacklist)

    def compiled(_data: dict[str, Any], _hashed: dict[str, Any], rules: Any, facts: Facts) -> None:
        for rule in rules:
            rule.status(facts)

    def reference(_data: dict[str, Any], _hashed: dict[str, Any], rules: Any, facts: Facts) -> None:
        for rule in rules:
            _rule_engine_status(rule, facts)

    paths = {
        "evaluate, hashed ids": full_hashed,
        "evaluate, raw ids": full_raw,
        "compiled rules": compiled,
        "rule-engine": reference,
    }
    times: dict[str, list[int]] = {name: [] for name in paths}
    for round_ in range(rounds + 1):  # round 0 warms up and is discarded
        for start in range(0, len(prepared) if round_ else 2000, BLOCK):
            block = prepared[start : start + BLOCK]
            for name, path in paths.items():
                samples = times[name] if round_ else []
                for item in block:
                    t0 = clock()
                    path(*item)
                    samples.append(clock() - t0)
    return times


def _rule_engine_status(rule: Any, facts: Facts) -> None:
    """The baseline: rule-engine's ``Rule.matches`` for the rule's conditions (errors count as evaluated)."""
    try:
        if rule.reference_applies is not None and not rule.reference_applies.matches(facts):
            return
        rule.reference_fails.matches(facts)
    except rule_engine.EngineError:
        return


def summarise(times: dict[str, list[int]]) -> dict[str, tuple[float, float]]:
    out = {}
    for name, values in times.items():
        ordered = sorted(values)
        out[name] = (statistics.median(ordered) / 1000, ordered[int(len(ordered) * 0.99)] / 1000)
    return out


def report(results: dict[str, dict[str, tuple[float, float]]], n: int, rounds: int, rules: dict[str, int]) -> str:
    lines = [
        "# Performance",
        "",
        "Written by `python benchmarks/run.py` on the state of the code it was run on; do not edit by hand.",
        "Absolute timings on the 2-core machine vary by tens of percent from run to run, so every figure is",
        "measured beside its baseline in the same process, campaign by campaign, and ratios are given.",
        "",
        "## Single decision",
        "",
        f"{n:,} generated campaigns per stage (`benchmarks/run.py: generate`, seeded), each timed once per round",
        f"by each path; {rounds} rounds, the paths taking turns over blocks of {BLOCK} campaigns so that drift in the",
        "machine's speed falls on all of them alike; samples pooled (median and 99th percentile).",
        "`evaluate` is the whole call from a plain dict: validation, ruleset choice by date, the blacklist",
        "check, every rule, and the Decision with its findings and input digest; once with identity numbers",
        "sent as keyed hashes (recommended: raw numbers then never reach the service) and once raw.",
        "`compiled rules` and `rule-engine` evaluate only the rules' conditions, on the same prepared facts.",
        "",
        "| stage | rules | path | median µs | p99 µs |",
        "|---|---|---|---:|---:|",
    ]
    for stage, summary in results.items():
        for name, (median, p99) in summary.items():
            lines.append(f"| {stage} | {rules[stage]} | {name} | {median:.1f} | {p99:.1f} |")
    # rule-engine's time for 15 of the publish rules (the closest to the "15 rules") calibrates
    # this run's machine speed against the reference of about 100 µs.
    per15 = results["publish"]["rule-engine"][0] / rules["publish"] * 15
    lines += ["", "Ratios of medians, measured in the same run:", ""]
    for stage, st in results.items():
        lines.append(
            f"- {stage}: rule-engine ÷ compiled rules = **{st['rule-engine'][0] / st['compiled rules'][0]:.1f}×**; "
            f"a full decision (hashed ids) costs **{st['evaluate, hashed ids'][0] / per15:.2f}×** what rule-engine "
            f"takes for 15 publish rules alone ({per15:.0f} µs here)"
        )
    payout = results["payout"]
    hashed, raw = payout["evaluate, hashed ids"][0], payout["evaluate, raw ids"][0]
    lines += [
        "",
        "Target: a full payout decision at a median under 50 µs on the 2-core machine, where rule-engine takes",
        f"about 100 µs for 15 rules. This run: rule-engine took {per15:.0f} µs for 15 rules; a payout decision took",
        f"**{hashed:.1f} µs** from a campaign carrying keyed ID hashes ({'met' if hashed < 50 else 'NOT met'}),",
        f"and {raw:.1f} µs from one carrying raw ID numbers, which are hashed (HMAC-SHA256) during the call.",
        "Scaled to the reference speed (rule-engine = 100 µs for 15 rules): "
        f"{hashed / per15 * 100:.1f} µs and {raw / per15 * 100:.1f} µs.",
        "",
        "## Machine",
        "",
        f"- {platform.machine()}, {_cpus()} CPUs, {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}, pydantic {pydantic.VERSION}, rule-engine {rule_engine.__version__}, "
        f"compliance {compliance.__version__}",
        f"- run at {datetime.now().strftime('%Y-%m-%d')} (the date is the only part of this file that is not measured)",
        "",
    ]
    return "\n".join(lines)


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--campaigns", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3, help="rounds over all campaigns, paths alternating")
    parser.add_argument("--output", default=str(ROOT / "docs" / "performance.md"), help="file, or - for stdout")
    args = parser.parse_args()
    campaigns = generate(args.campaigns)
    blacklist = Blacklist.from_id_numbers(LISTED, key=KEY)
    gc.collect()
    results, rules = {}, {}
    for stage in ("payout", "publish"):
        results[stage] = summarise(measure(campaigns, stage, blacklist, args.rounds))
        rules[stage] = len(Catalog.default().for_date(datetime(2025, 1, 1)).rules_for(stage))
    text = report(results, args.campaigns, args.rounds, rules)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
