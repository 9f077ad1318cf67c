"""Models by their command-line names."""

from __future__ import annotations

from keras_wsal.losses import UntrimmedNetLoss, WSGNLoss
from keras_wsal.models.names import MODEL_NAMES, default_norms
from keras_wsal.models.supervised import SupervisedWSGN
from keras_wsal.models.untrimmednet import UntrimmedNet
from keras_wsal.models.wsgn import WSGN
from keras_wsal.models.wtalc import WTALC


def build_model(
    name: str,
    num_classes: int,
    feature_dims,
    norms=None,
    fusion: str | None = None,
    dropout: float | None = None,
    k_ratio: float | None = None,
    casl_weight: float | None = None,
    weight_decay: float = 0.0,
    casl_pairs: int = 0,
):
    """The model called `name` (one of `MODEL_NAMES`); an argument left None keeps its default.

    `norms` applies to "wsgn" and "supervised" (WSGN's network trained with frame labels; None:
    `default_norms(name)`, the complete WSGN and none for "supervised"); `k_ratio` to
    "untrimmednet-hard" and "wtalc".
    """
    if norms is None:
        norms = default_norms(name)
    given = {"dropout": dropout, "fusion": fusion, "casl_weight": casl_weight}
    common = {
        "weight_decay": weight_decay,
        "casl_pairs": casl_pairs,
        **{k: v for k, v in given.items() if v is not None},
    }
    if name in ("untrimmednet-hard", "untrimmednet-soft"):
        mode = name.split("-")[1]
        return UntrimmedNet(
            num_classes,
            feature_dims,
            mode=mode,
            k_ratio=k_ratio if mode == "hard" else None,
            **common,
        )
    if name in ("wsgn", "naive"):
        return WSGN(num_classes, feature_dims, norms=norms if name == "wsgn" else (), **common)
    if name == "supervised":
        return SupervisedWSGN(num_classes, feature_dims, norms=norms, **common)
    if name == "wtalc":
        return WTALC(
            num_classes, feature_dims, **({} if k_ratio is None else {"k_ratio": k_ratio}), **common
        )
    raise ValueError(f"unknown model {name!r}; expected one of {MODEL_NAMES}.")


def loss_for_model(model):
    """The loss a keras_wsal model is trained with: eq. 5 for UntrimmedNet (and W-TALC's
    multiple-instance loss, the same cross-entropy), BCE for WSGN."""
    return UntrimmedNetLoss() if isinstance(model, (UntrimmedNet, WTALC)) else WSGNLoss()
