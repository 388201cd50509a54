"""Risk scoring: features, a calibrated model with faithful reasons, and synthetic training data.

    >>> from compliance.risk import RiskModel, features
    >>> model = RiskModel().fit(export_frame, labels)     # a platform's labelled history
    >>> model.score_campaign(campaign)                     # Risk(score, band, reasons, model)

The score flags campaigns for people to review; it never rejects one and never says "fraud".
"""

from compliance.risk._features import FEATURE_NAMES, FEATURES, Feature, History, Reference, features
from compliance.risk._model import RiskModel

__all__ = ["FEATURES", "FEATURE_NAMES", "Feature", "History", "Reference", "RiskModel", "features"]
