"""Rules as data: the clause corpus, rulesets by version, and how they load and are chosen by date.

>>> from compliance.rules import Catalog
>>> catalog = Catalog.default().with_parameters({"max_target_amount": 400000})
>>> compliance.evaluate(campaign, ruleset=catalog)
"""

from compliance.rules._catalog import Catalog, load_ruleset
from compliance.rules._corpus import Corpus, load_corpus
from compliance.rules._coverage import clause_coverage, coverage_markdown
from compliance.rules._parameters import Parameter
from compliance.rules._rule import Rule
from compliance.rules._ruleset import Ruleset

__all__ = [
    "Catalog",
    "Corpus",
    "Parameter",
    "Rule",
    "Ruleset",
    "clause_coverage",
    "coverage_markdown",
    "load_corpus",
    "load_ruleset",
]
