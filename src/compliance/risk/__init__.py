"""Risk scoring: features, a calibrated model with faithful reasons, and synthetic training data.

    >>> from compliance.risk import RiskModel, load_model
    >>> model = RiskModel().fit(export_frame, labels)     # a platform's labelled history
    >>> model.score_campaign(campaign)                     # Risk(score, band, reasons, model)
    >>> model.score_table(export_frame)                    # a whole export, as columns

The score flags campaigns for people to review; it never rejects one and never says "fraud".
"""

from compliance.risk._features import FEATURE_NAMES, FEATURES, Feature, History, Reference, features
from compliance.risk._model import RiskModel
from compliance.risk._persist import default_model, load_model, read_card, save_model

__all__ = [
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
