"""Models by their command-line names."""

from __future__ import annotations

from keras_wsal.models.untrimmednet import UntrimmedNet
from keras_wsal.models.wsgn import WSGN

MODEL_NAMES = ("untrimmednet-hard", "untrimmednet-soft", "wsgn", "naive")


def build_model(
    name: str,
    num_classes: int,
    feature_dims,
    norms=("zloc", "gloc", "sloc"),
    fusion: str = "late",
    dropout: float = 0.5,
    k_ratio: float | None = None,
    casl_weight: float = 0.0,
    weight_decay: float = 0.0,
):
    """The model called `name` (one of `MODEL_NAMES`); `norms` applies to "wsgn" only."""
    common = {
        "dropout": dropout,
        "fusion": fusion,
        "casl_weight": casl_weight,
        "weight_decay": weight_decay,
    }
    if name in ("untrimmednet-hard", "untrimmednet-soft"):
        mode = name.split("-")[1]
        return UntrimmedNet(
            num_classes, feature_dims, mode=mode, k_ratio=k_ratio if mode == "hard" else None, **common
        )
    if name in ("wsgn", "naive"):
        return WSGN(num_classes, feature_dims, norms=norms if name == "wsgn" else (), **common)
    raise ValueError(f"unknown model {name!r}; expected one of {MODEL_NAMES}.")
