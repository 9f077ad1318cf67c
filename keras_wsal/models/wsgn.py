"""WSGN (Fernando et al., WACV 2020): Gaussian frame selection on snippet features."""

from __future__ import annotations

import inspect

import keras
from keras import ops

from keras_wsal.layers import (
    GaussianGlobalNorm,
    GaussianLocalNorm,
    SixteenBitDropout,
    TemporalSoftmaxNorm,
)
from keras_wsal.layers.masked_ops import float_mask, safe_divide
from keras_wsal.layers.valid_snippets import on_valid_snippets
from keras_wsal.models._base import SnippetModel
from keras_wsal.utils.arguments import is_int
from keras_wsal.utils.registration import keras_wsal_serializable

NORMS = {"zloc": GaussianLocalNorm, "gloc": GaussianGlobalNorm, "sloc": TemporalSoftmaxNorm}


def parse_norms(norms) -> tuple[str, ...]:
    """`"zloc,gloc"` or an iterable of names → a checked tuple in the canonical order."""
    if isinstance(norms, str):
        norms = [n.strip() for n in norms.split(",") if n.strip()]
    norms = [str(n).lower() for n in norms]
    unknown = [n for n in norms if n not in NORMS]
    if unknown or len(set(norms)) != len(norms):
        raise ValueError(
            f"WSGN: `norms` must be distinct names among {tuple(NORMS)}; received {norms!r}."
        )
    return tuple(n for n in NORMS if n in norms)


def default_norm_sum_to(norms: tuple[str, ...]) -> dict:
    """`{norm: sum_to}`, WSGN's default for a set of norms (`TemporalNormalization.sum_to`).

    Each layer's own default (SLoc and GLoc rescaled to sum to T_valid, ZLoc eq. 3 literally),
    except that GLoc keeps eq. 5 literally beside SLoc: SLoc's weights already let ŷ reach 1, and
    rescaling GLoc too measured lower for the complete model (README, "Results").
    """
    defaults = {n: inspect.signature(NORMS[n].__init__).parameters["sum_to"].default for n in norms}
    if "gloc" in norms and "sloc" in norms:
        defaults["gloc"] = None
    return defaults


def parse_norm_sum_to(norms: tuple[str, ...], norm_sum_to) -> dict:
    """`{norm: sum_to}` for each norm of `norms`: from `norm_sum_to`, else WSGN's default."""
    given = dict(norm_sum_to or {})
    unknown = [n for n in given if n not in norms]
    if unknown:
        raise ValueError(
            f"WSGN: `norm_sum_to` names norms the model does not use: {unknown}; its norms are "
            f"{list(norms)}."
        )
    for norm, value in given.items():
        if value not in NORMS[norm].SUM_CHOICES:
            raise ValueError(
                f"WSGN: `norm_sum_to[{norm!r}]` must be one of {NORMS[norm].SUM_CHOICES}; "
                f"received {value!r}."
            )
    return {**default_norm_sum_to(norms), **given}


class _WSGNHead(keras.layers.Layer):
    """h_cls and h_det (two-layer networks) and the frame selection g = avg(selected norms).

    `sum_to`: `{norm: sum_to}` for every norm of `norms` (`parse_norm_sum_to`).
    """

    def __init__(
        self, num_classes, norms, sum_to, hidden_dim, dropout, kernel_regularizer=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.dropout = SixteenBitDropout(dropout)

        def dense(units, name, activation=None):
            return keras.layers.Dense(
                units, activation=activation, kernel_regularizer=kernel_regularizer, name=name
            )

        self.cls_hidden = dense(hidden_dim, "cls_hidden", "relu")
        self.cls_out = dense(num_classes, "cls_out")
        self.norm_layers = [NORMS[n](name=n, sum_to=sum_to[n]) for n in norms]
        # h_det, whose scores the norms turn into the frame selection g; the Naive baseline (no
        # norms) has none.
        self.selection_layers = (
            [dense(hidden_dim, "det_hidden", "relu"), dense(num_classes, "det_out")]
            if norms
            else []
        )

    def build(self, input_shape):
        hidden_shape = tuple(input_shape[:-1]) + (self.cls_hidden.units,)
        output_shape = tuple(input_shape[:-1]) + (self.cls_out.units,)
        for hidden, out in [
            (self.cls_hidden, self.cls_out),
            *([self.selection_layers] if self.selection_layers else []),
        ]:
            hidden.build(input_shape)
            out.build(hidden_shape)
        for layer in self.norm_layers:
            layer.build(output_shape)
        self.built = True

    def _snippet_networks(self, rows):
        """`(h_cls(rows), h_det(rows))` (h_det only with norms): logits `[N, C]` each."""
        outputs = (self.cls_out(self.cls_hidden(rows)),)
        if self.selection_layers:
            outputs += (self.selection_layers[1](self.selection_layers[0](rows)),)
        return outputs

    def call(self, features, snippet_mask=None, training=None):
        mask = snippet_mask
        f = self.dropout(features, training=training)
        logits, *selection_scores = on_valid_snippets(self._snippet_networks, f, mask)
        probabilities = ops.softmax(ops.cast(logits, "float32"), axis=-1)
        valid = float_mask(mask, probabilities)
        if self.norm_layers:
            (x,) = selection_scores
            weights = [ops.cast(layer(x, mask=mask), "float32") for layer in self.norm_layers]
            selection = sum(weights) / len(weights)
        else:
            selection = ops.ones_like(probabilities) * valid
        detection = selection * probabilities
        video = safe_divide(ops.sum(detection * valid, axis=1), ops.sum(valid, axis=1))
        return {
            "video_scores": video,
            "snippet_scores": probabilities * valid,
            "selection": selection,
            "detection_scores": detection * valid,
            "logits": logits,
            "features": f,
        }


@keras_wsal_serializable
class WSGN(SnippetModel):
    """WSGN on snippet features: classification, Gaussian frame selection, weighted averaging.

    Classification module σ(h(f, θ_cls)) and selection scores x_t = h(f, θ_det), each h a
    two-layer network (hidden size = feature size by default). Frame selection g averages any
    subset of the three normalisations of x_t:

    - "zloc" (eq. 3, `GaussianLocalNorm`): a Gaussian with the video's own mean and deviation;
    - "gloc" (eq. 5, `GaussianGlobalNorm`): a Gaussian with a learned mean and deviation per class;
    - "sloc" (eq. 7, `TemporalSoftmaxNorm`): a softmax over time per class;

    the complete model uses all three, `norms=()` is the Naive baseline (eq. 1, g = 1). The video
    prediction is eq. 2 over the valid snippets,

        ŷ = (1 / T) Σ_t g(I_t) ⊙ σ(h(f(I_t), θ_cls)),

    where each norm's weights are rescaled to sum to T_valid per class or taken as its equation
    gives them (`norm_sum_to`). With weights at most 1 (eqs. 3 and 5) or summing to 1 (eq. 7), ŷ
    can reach 1 only if every step is selected, so the defaults rescale SLoc always and GLoc
    unless SLoc is there to do it, and take ZLoc literally, the choices that measured best on
    `benchmarks/bench_quality.py` (README, "Results").

    trained with binary cross-entropy (`keras_wsal.losses.WSGNLoss`). Detection thresholds
    g ⊙ σ(h_cls) per snippet.

    Args:
        num_classes: number of action classes C.
        feature_dims: `D` for one stream called "features", or `{"rgb": D1, "flow": D2}`.
        norms: a subset of ("zloc", "gloc", "sloc"), or a comma-separated string.
        hidden_dim: hidden size of h_cls and h_det (default: the head's input feature size).
        dropout: dropout rate on the snippet features (the paper: 0.5 images, 0.8 I3D).
        fusion: "late" (a head per stream, outputs averaged) or "concat".
        norm_sum_to: `{norm: sum_to}` for any of the norms (the `sum_to` of `GaussianLocalNorm`,
            `GaussianGlobalNorm`, `TemporalSoftmaxNorm`); a norm not named keeps WSGN's default:
            "zloc" None, "sloc" "length", "gloc" "length" alone and None beside SLoc
            (`default_norm_sum_to`). The paper's equations literally: `{"gloc": None, "sloc":
            "one"}`.
        casl_weight, casl_margin, weight_decay: see `SnippetModel`.

    Output of `call`: ŷ `[B, C]` float32 in [0, 1]. `snippet_outputs(inputs)` also gives
    `snippet_scores` σ(h_cls), `selection` g and `detection_scores` g ⊙ σ(h_cls), `[B, T, C]`.

    Example:

    >>> model = WSGN(num_classes=20, feature_dims=2048, norms=("zloc", "gloc", "sloc"))
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-4), loss=keras_wsal.losses.WSGNLoss())
    """

    def __init__(
        self,
        num_classes: int,
        feature_dims,
        norms=("zloc", "gloc", "sloc"),
        hidden_dim: int | None = None,
        dropout: float = 0.5,
        fusion: str = "late",
        norm_sum_to=None,
        **kwargs,
    ):
        self.norms = parse_norms(norms)
        self.norm_sum_to = parse_norm_sum_to(self.norms, norm_sum_to)
        if hidden_dim is not None and (not is_int(hidden_dim, 1)):
            raise ValueError(
                f"WSGN: `hidden_dim` must be an int ≥ 1 or None; received {hidden_dim!r}."
            )
        self.hidden_dim = hidden_dim
        self.dropout = float(dropout)
        super().__init__(num_classes, feature_dims, fusion=fusion, **kwargs)

    def _make_head(self, name, input_dim):
        return _WSGNHead(
            self.num_classes,
            self.norms,
            self.norm_sum_to,
            self.hidden_dim or input_dim,
            self.dropout,
            kernel_regularizer=self._kernel_regularizer(),
            name=name,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "norms": list(self.norms),
                "hidden_dim": self.hidden_dim,
                "dropout": self.dropout,
                "norm_sum_to": dict(self.norm_sum_to),
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        if "norm_sum_to" not in config:
            # Saved before `norm_sum_to` existed, when GLoc computed eq. 5 literally.
            norms = parse_norms(config.get("norms", ()))
            config = {**config, "norm_sum_to": {"gloc": None} if "gloc" in norms else {}}
        return super().from_config(config)
