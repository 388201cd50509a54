"""Evaluate the example campaign at both stages and show what an auditor and a backend each need.

Run: python examples/evaluate_campaign.py
"""

import json
from pathlib import Path

import compliance

HERE = Path(__file__).parent
KEY = (HERE / "demo-blacklist.key").read_text(encoding="utf-8").strip()  # a platform keeps its key secret


def main() -> None:
    blacklist = compliance.Blacklist.load(HERE / "blacklist.json", key=KEY)
    campaign = json.loads((HERE / "campaign-payout.json").read_text(encoding="utf-8"))

    # Before going live: pre-review (前置审核).
    publish = compliance.evaluate(campaign, stage="publish", blacklist=blacklist)
    print(f"publish: {publish.outcome}")

    # A withdrawal request (提现): the rules in force on payout.requested_at apply.
    payout = compliance.evaluate(campaign, stage="payout", blacklist=blacklist)
    print(f"payout: {payout.outcome}; permitted routes: {payout.payout_routes}")
    for finding in payout.findings:
        print(f"  {finding.rule_id}: {finding.message.en}")
        for citation in finding.citations:
            print(f"    {citation.grade:<8} {citation.clause_id}")

    # A backend stores the decision as JSON; it reloads byte for byte.
    stored = payout.model_dump_json()
    assert compliance.Decision.model_validate_json(stored).model_dump_json() == stored

    # The same request, paid to the hospital account, is permitted.
    campaign["payout"]["payee"] = "hospital_account"
    fixed = compliance.evaluate(campaign, stage="payout", blacklist=blacklist)
    print(f"payout to the hospital account: {fixed.outcome}")


if __name__ == "__main__":
    main()
