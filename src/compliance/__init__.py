"""compliance: check Chinese personal serious-illness help campaigns against the rules that govern them.

    >>> import compliance, json
    >>> campaign = json.load(open("examples/campaign-payout.json", encoding="utf-8"))
    >>> decision = compliance.evaluate(campaign, stage="payout", model=None)
    >>> decision.outcome, decision.payout_routes
    >>> print(decision)          # findings, the clauses they cite, obligations, provenance

Rules are data (``compliance.rules``): each cites the clauses it enforces, with their text and how sure
we are of it. The library flags for people to decide; it never calls anyone a fraud.
"""

from compliance._evaluate import evaluate
from compliance._version import __version__
from compliance.blacklist import Blacklist
from compliance.campaign import Campaign
from compliance.decision import Citation, Decision, Finding, Obligation, RulesetRef
from compliance.errors import (
    BlacklistError,
    CampaignError,
    ComplianceError,
    RuleFileError,
    RulesetNotFound,
)

__all__ = [
    "FLAT_COLUMNS",
    "Blacklist",
    "BlacklistError",
    "Campaign",
    "CampaignError",
    "Citation",
    "ComplianceError",
    "Decision",
    "Finding",
    "Obligation",
    "RuleFileError",
    "RulesetNotFound",
    "RulesetRef",
    "__version__",
    "decision_for",
    "evaluate",
    "evaluate_frame",
    "read_export",
]

_BATCH = {"evaluate_frame", "decision_for", "read_export"}


def __getattr__(name: str) -> object:
    """The batch API, imported on first use: a backend that scores one campaign never loads pandas."""
    if name in _BATCH:
        from compliance import batch

        return getattr(batch, name)
    if name == "FLAT_COLUMNS":
        from compliance._flat import FLAT_COLUMNS

        return FLAT_COLUMNS
    raise AttributeError(f"module 'compliance' has no attribute {name!r}")
