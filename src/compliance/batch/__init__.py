"""Batch evaluation: every campaign of a table or an export, with the decisions ``evaluate()`` gives.

- :func:`evaluate_frame` / :func:`decision_for`: a pandas DataFrame of flat campaign rows;
- :func:`read_export` and :class:`ExportMapping`: CSV, Parquet and JSON Lines exports with their own columns;
- :func:`evaluate_spark` / :func:`evaluate_dask`: the same function on a cluster.
"""

from compliance.batch._distributed import evaluate_dask, evaluate_spark
from compliance.batch._frame import OUTPUT_COLUMNS, decision_for, evaluate_frame, format_obligations
from compliance.batch._mapping import ExportMapping, Mapping, shipped_mappings
from compliance.batch._mapping_schema import COLUMN_TYPES, MAPPING_FORMAT
from compliance.batch._readers import Chunk, read_export
from compliance.batch._score import Summary, score_file
from compliance.errors import ExportError, FallbackWarning, MappingError  # defined with every other error

__all__ = [
    "COLUMN_TYPES",
    "MAPPING_FORMAT",
    "OUTPUT_COLUMNS",
    "Chunk",
    "ExportError",
    "ExportMapping",
    "FallbackWarning",
    "Mapping",
    "MappingError",
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
