"""Batch evaluation: every campaign of a table or an export, with the decisions ``evaluate()`` gives."""

from compliance.batch._frame import OUTPUT_COLUMNS, FallbackWarning, decision_for, evaluate_frame, format_obligations

__all__ = ["OUTPUT_COLUMNS", "FallbackWarning", "decision_for", "evaluate_frame", "format_obligations"]
