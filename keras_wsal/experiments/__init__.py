"""Experiments built from the package's parts: `ablation` trains, detects and evaluates several
model variants on one dataset and tabulates them (WSGN's Table 2; `keras-wsal demo`)."""

from keras_wsal.experiments import ablation

__all__ = ["ablation"]
