"""A platform tightens a parameter and adds a rule of its own, without forking the shipped rules.

Run: python examples/platform_customisation.py
"""

import json
from pathlib import Path

import compliance
from compliance.rules import Catalog

HERE = Path(__file__).parent


def main() -> None:
    catalog = (
        Catalog.default()
        # This platform caps requests at ¥400,000 instead of the conventions' ¥500,000.
        .with_parameters({"max_target_amount": 400_000})
        # ...and requires, from 2025, that its own staff reviewed every payout to a close relative.
        .with_rules(
            HERE / "platform-rules" / "example-platform.yaml",
            clauses=[HERE / "platform-rules" / "example-platform-clauses.yaml"],
        )
    )
    campaign = json.loads((HERE / "campaign-payout.json").read_text(encoding="utf-8"))
    campaign["target_amount"] = "450000"

    decision = compliance.evaluate(campaign, stage="publish", ruleset=catalog)
    print(
        f"publish with a ¥450,000 target: {decision.outcome} (ruleset {decision.ruleset.id}, "
        f"revision {decision.ruleset.revision}, overrides {decision.ruleset.overrides})"
    )
    print("  failed:", [f.rule_id for f in decision.findings if f.status == "fail"])

    decision = compliance.evaluate(campaign, stage="payout", ruleset=catalog)
    print(f"payout to a close relative: {decision.outcome}")
    print("  failed:", [f.rule_id for f in decision.findings if f.status == "fail"])


if __name__ == "__main__":
    main()
