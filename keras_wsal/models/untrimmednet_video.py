"""UntrimmedNet with its image backbone inside: trained end to end on clips of raw frames."""

from __future__ import annotations

import keras
from keras import ops

from keras_wsal.backbones import (
    BACKBONES,
    STREAM_CHANNELS,
    STREAM_DROPOUT,
    SegmentalConsensus,
    make_backbone,
    set_partial_bn,
)
from keras_wsal.models._base import share_dtype_policy
from keras_wsal.models.untrimmednet import MODES, UntrimmedNet
from keras_wsal.utils.arguments import is_int
from keras_wsal.utils.registration import keras_wsal_serializable

# UntrimmedNet §5.3: "we set the parameter k in top-k pooling as floor(N/2)" for N clips.
PAPER_K_RATIO = 0.5


@keras_wsal_serializable
class UntrimmedNetVideo(keras.Model):
    """UntrimmedNet (Wang et al., CVPR 2017) on one stream, with the backbone trained jointly.

    Feature extraction module (§3.2, with TSN's segmental modelling of §5.2): each of the `N`
    clip proposals of a video is represented by `K` snippets, one per equal segment of the clip
    (one RGB frame for `stream="rgb"`, a stack of 5 flows, 10 channels, for `"flow"`). The
    backbone maps every snippet to a feature, and the clip's feature is TSN's segmental
    consensus, the mean over its `K` snippets:

        φ(c) = (1/K) Σ_k F(T_k),    F = the backbone, T_k the snippet of segment k.

    The classification and selection modules are `UntrimmedNet`'s, on the clip features
    `[B, N, D]` (eq. 1; hard selection eq. 3, `TopKSelect`; soft selection eq. 2 and 4,
    `AttentionSelect`); the head model is `self.head`, an `UntrimmedNet` on `{stream: D}`
    features. Because both modules are linear in φ, averaging features before them equals
    TSN's averaging of the segments' scores (up to the dropout masks).

    The backbone (`keras_wsal.backbones.make_backbone`) gets TSN's partial BN (`partial_bn`:
    every BatchNormalization layer but the first frozen) and, with `weight_decay > 0`, the
    coupled weight decay of Caffe: every trainable backbone kernel adds
    `weight_decay / 2 · ‖W‖²` to the loss, as the head's kernels do (`SnippetModel`).

    The two streams are trained separately, as in the paper (their learning rates and
    schedules differ; `keras_wsal.training.end_to_end.train_end_to_end`), and fused at test time.

    Args:
        num_classes: number of action classes C.
        stream: `"rgb"` (spatial stream) or `"flow"` (temporal stream).
        backbone: one of `keras_wsal.backbones.BACKBONES` (the papers: `"bn_inception"`).
        input_size: the side of the square snippets the backbone sees (TSN: 224).
        num_segments: `K`, snippets per clip (TSN: 3).
        mode: `"hard"` or `"soft"` selection.
        k, k_ratio: `TopKSelect`'s arguments for `mode="hard"`; by default `k_ratio=0.5`,
            the paper's `k = floor(N / 2)`.
        dropout: dropout on the clip features; `None` gives the paper's 0.8 (rgb) / 0.7 (flow).
        partial_bn: freeze every backbone BatchNormalization layer but the first.
        weight_decay: coupled L2 weight decay on every trainable kernel.

    Inputs: a dict `{stream: float32 [B, N, K, S, S, C], "mask": bool [B, N] (optional)}`:
    the snippets after `keras_wsal.backbones.preprocess_input(snippets, backbone, stream)`,
    `S = input_size`; the mask is True at real clips (a padded clip still runs through the
    backbone, and in training mode the first BN layer's batch statistics include it).

    Output of `call`: the video prediction x̄^p `[B, C]` (float32, sums to 1).
    `snippet_outputs(inputs)` returns the keras_wsal output dict with one step per clip:
    `video_scores` `[B, C]`, `snippet_scores` `[B, N, C]`, `selection` (`[B, N, 1]` soft,
    `[B, N, C]` hard), `detection_scores` `[B, N, C]`.

    Example:

    >>> model = UntrimmedNetVideo(20, stream="rgb", backbone="bn_inception", mode="soft")
    >>> model.compile(optimizer="sgd", loss=keras_wsal.losses.UntrimmedNetLoss())
    """

    def __init__(
        self,
        num_classes: int,
        stream: str = "rgb",
        backbone: str = "bn_inception",
        input_size: int = 224,
        num_segments: int = 3,
        mode: str = "soft",
        k: int | None = None,
        k_ratio: float | None = None,
        dropout: float | None = None,
        partial_bn: bool = True,
        weight_decay: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        name = type(self).__name__
        if stream not in STREAM_CHANNELS:
            raise ValueError(
                f"{name}: `stream` must be one of {sorted(STREAM_CHANNELS)}; received {stream!r}."
            )
        if backbone not in BACKBONES:
            raise ValueError(
                f"{name}: `backbone` must be one of {BACKBONES}; received {backbone!r}."
            )
        for field, value in (("input_size", input_size), ("num_segments", num_segments)):
            if not is_int(value, 1):
                raise ValueError(f"{name}: `{field}` must be an int ≥ 1; received {value!r}.")
        if mode not in MODES:
            raise ValueError(f"{name}: `mode` must be one of {MODES}; received {mode!r}.")
        if dropout is not None and not 0.0 <= dropout < 1.0:
            raise ValueError(f"{name}: `dropout` must be in [0, 1) or None; received {dropout!r}.")
        if mode == "hard" and k is None and k_ratio is None:
            k_ratio = PAPER_K_RATIO
        self.num_classes = num_classes
        self.stream = stream
        self.backbone_name = backbone
        self.input_size = input_size
        self.num_segments = num_segments
        self.mode = mode
        self.k = k
        self.k_ratio = k_ratio
        self.dropout = STREAM_DROPOUT[stream] if dropout is None else float(dropout)
        self.partial_bn = bool(partial_bn)
        self.weight_decay = float(weight_decay)
        self.backbone = make_backbone(
            backbone,
            stream=stream,
            input_shape=(input_size, input_size, STREAM_CHANNELS[stream]),
        )
        if self.partial_bn:
            set_partial_bn(self.backbone)
        self.feature_dim = int(self.backbone.output_shape[-1])
        self.consensus = SegmentalConsensus(name="consensus")
        self.head = UntrimmedNet(
            num_classes,
            {stream: self.feature_dim},
            mode=mode,
            k=k,
            k_ratio=k_ratio,
            dropout=self.dropout,
            weight_decay=self.weight_decay,
            name="head",
        )
        if self.weight_decay:
            for variable in self.backbone.trainable_weights:
                if variable.path.endswith("kernel"):
                    variable.regularizer = keras.regularizers.L2(self.weight_decay / 2.0)
        share_dtype_policy(self)
        # Everything is determined by the arguments: the model is built here, so that it saves
        # and loads whole before its first call.
        self.build()

    def build(self, input_shape=None):
        # The backbone is built already; the head sees [B, N, D] clip features whatever the
        # number of clips.
        if not self.head.built:
            self.head.build({self.stream: (None, None, self.feature_dim)})
        self.built = True

    def _clip_features(self, inputs, training):
        """φ(c) for every clip: `[B, N, D]` from the snippets `[B, N, K, S, S, C]`."""
        name = type(self).__name__
        if not isinstance(inputs, dict) or self.stream not in inputs:
            received = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise ValueError(
                f"{name} expects a dict of inputs with the key {self.stream!r} (and optionally "
                f"'mask'); received {received}."
            )
        snippets = inputs[self.stream]
        expected = (self.num_segments, *self.backbone.input_shape[1:])
        if len(snippets.shape) != 6 or tuple(snippets.shape[2:]) != expected:
            raise ValueError(
                f"{name}: inputs[{self.stream!r}] must have shape [batch, clips, "
                f"{', '.join(str(d) for d in expected)}]; received {tuple(snippets.shape)}."
            )
        shape = ops.shape(snippets)
        flat = ops.reshape(snippets, (-1, *expected[1:]))
        features = self.backbone(flat, training=training)
        features = self.consensus(ops.reshape(features, (-1, self.num_segments, self.feature_dim)))
        return ops.reshape(features, (shape[0], shape[1], self.feature_dim))

    def snippet_outputs(self, inputs, training=False) -> dict:
        """The keras_wsal output dict, one step per clip (see the class docstring)."""
        head_inputs = {self.stream: self._clip_features(inputs, training)}
        if inputs.get("mask") is not None:
            head_inputs["mask"] = inputs["mask"]
        return self.head.snippet_outputs(head_inputs, training=training)

    def call(self, inputs, training=None):
        return self.snippet_outputs(inputs, training=training)["video_scores"]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "stream": self.stream,
                "backbone": self.backbone_name,
                "input_size": self.input_size,
                "num_segments": self.num_segments,
                "mode": self.mode,
                "k": self.k,
                "k_ratio": self.k_ratio,
                "dropout": self.dropout,
                "partial_bn": self.partial_bn,
                "weight_decay": self.weight_decay,
            }
        )
        return config
