"""The public surface is exactly what __all__ says, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import compliance
import compliance.rules


def test_the_top_level_exports_exactly_the_public_api() -> None:
    assert sorted(compliance.__all__) == [
        "Blacklist",
        "BlacklistError",
        "Campaign",
        "CampaignError",
        "Citation",
        "ComplianceError",
        "Decision",
        "FLAT_COLUMNS",
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
    assert all(hasattr(compliance, name) for name in compliance.__all__)


def test_the_rules_package_exports_exactly_its_api() -> None:
    assert sorted(compliance.rules.__all__) == [
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
    assert all(hasattr(compliance.rules, name) for name in compliance.rules.__all__)


def test_errors_share_one_root() -> None:
    for name in ("BlacklistError", "CampaignError", "RuleFileError", "RulesetNotFound"):
        assert issubclass(getattr(compliance, name), compliance.ComplianceError)


def test_every_exception_and_warning_is_defined_in_errors_py() -> None:
    import compliance.batch
    import compliance.errors

    for name in ("ExportError", "MappingError", "FallbackWarning"):
        cls = getattr(compliance.batch, name)
        assert cls is getattr(compliance.errors, name) and cls.__module__ == "compliance.errors"
    assert issubclass(compliance.batch.ExportError, compliance.ComplianceError)
    assert issubclass(compliance.batch.MappingError, compliance.ComplianceError)
    modules = ("_mapping_schema", "_mapping", "_readers", "_streams", "_frame", "_score", "_table", "_distributed")
    for module in modules:  # none defines its own
        source = (Path(compliance.batch.__file__).parent / f"{module}.py").read_text(encoding="utf-8")
        assert "Error(" not in "".join(line for line in source.splitlines() if line.startswith("class "))
        assert "Warning)" not in "".join(line for line in source.splitlines() if line.startswith("class "))


def test_importing_compliance_does_not_import_pandas_or_scikit_learn() -> None:
    code = "import sys, compliance; print('pandas' in sys.modules, 'sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_the_risk_package_exports_exactly_its_api() -> None:
    import compliance.risk

    assert sorted(compliance.risk.__all__) == [
        "FEATURES",
        "FEATURE_NAMES",
        "Feature",
        "History",
        "Reference",
        "RiskModel",
        "default_model",
        "features",
        "load_model",
        "read_card",
        "save_model",
    ]
    assert all(hasattr(compliance.risk, name) for name in compliance.risk.__all__)
    assert len(compliance.risk.FEATURE_NAMES) == len(set(compliance.risk.FEATURE_NAMES))


def test_the_batch_package_exports_exactly_its_api() -> None:
    import compliance.batch

    assert sorted(compliance.batch.__all__) == [
        "COLUMN_TYPES",
        "Chunk",
        "ExportError",
        "ExportMapping",
        "FallbackWarning",
        "MAPPING_FORMAT",
        "Mapping",
        "MappingError",
        "OUTPUT_COLUMNS",
        "Summary",
        "decision_for",
        "evaluate_dask",
        "evaluate_frame",
        "evaluate_spark",
        "format_obligations",
        "read_export",
        "score_file",
        "shipped_mappings",
    ]
    assert all(hasattr(compliance.batch, name) for name in compliance.batch.__all__)
    assert compliance.evaluate_frame is compliance.batch.evaluate_frame


def test_importing_the_batch_package_does_not_import_spark_or_dask() -> None:
    code = "import sys, compliance.batch; print('pyspark' in sys.modules, 'dask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_the_export_mapping_keeps_its_earlier_name() -> None:
    import compliance.batch

    assert compliance.batch.Mapping is compliance.batch.ExportMapping
    assert compliance.batch.ExportMapping.__name__ == "ExportMapping"
