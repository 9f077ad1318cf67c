"""What UntrimmedNet and WSGN share: feature streams, masking, two-stream fusion, outputs."""

from __future__ import annotations

import keras
from keras import ops

from keras_wsal.losses.casl import co_activity_similarity_loss
from keras_wsal.utils.arguments import is_int, is_real

FUSIONS = ("concat", "late")
SNIPPET_OUTPUTS = ("video_scores", "snippet_scores", "selection", "detection_scores")


def normalize_feature_dims(feature_dims) -> dict[str, int]:
    """`D` → `{"features": D}`; a dict of stream → D is checked and returned in sorted order."""
    if isinstance(feature_dims, int) and not isinstance(feature_dims, bool):
        feature_dims = {"features": feature_dims}
    if not isinstance(feature_dims, dict) or not feature_dims:
        raise ValueError(
            "`feature_dims` must be an int D (one stream called 'features') or a dict of stream "
            f"name → D such as {{'rgb': 1024, 'flow': 1024}}; received {feature_dims!r}."
        )
    for stream, dim in feature_dims.items():
        if not isinstance(stream, str) or stream == "mask":
            raise ValueError(
                f"`feature_dims`: stream names are strings other than 'mask'; received {stream!r}."
            )
        if not is_int(dim, 1):
            raise ValueError(f"`feature_dims[{stream!r}]` must be an int ≥ 1; received {dim!r}.")
    return {stream: int(feature_dims[stream]) for stream in sorted(feature_dims)}


def share_dtype_policy(model: keras.Model) -> None:
    """Give every layer inside `model` the model's dtype policy.

    Keras gives a layer made without a `dtype` the global policy of the moment, so a model loaded
    under another global policy (as `keras-wsal detect` loads a bfloat16 run, under float32) would
    compute its layers in that one, not in the policy it was trained in.
    """
    for layer in model._flatten_layers(include_self=False):
        layer.dtype_policy = model.dtype_policy


class SnippetModel(keras.Model):
    """Base of the keras_wsal models: per-stream heads over snippet features, fused late or early.

    Inputs are a dict with one `[batch, time, D_s]` float array per stream (`"features"`, or
    `"rgb"` and `"flow"`) and an optional boolean `"mask"` `[batch, time]` (True at real snippets).
    With `fusion="concat"` the streams are concatenated and one head sees them; with
    `fusion="late"` each stream has its own head and the outputs are averaged (the papers fuse
    the RGB and flow streams late). `call` returns the video prediction `[batch, classes]` in
    float32, the output training fits; `snippet_outputs` returns what detection needs.

    `weight_decay` is the papers' (Caffe / PyTorch) coupled weight decay: every kernel W adds
    weight_decay / 2 · ‖W‖² to the loss, so its gradient gains weight_decay · W. `casl_weight`
    adds W-TALC's co-activity similarity loss (`keras_wsal.losses.co_activity_similarity_loss`)
    to the training loss, over every two videos of a batch that share a class, or with
    `casl_pairs = P > 0` over W-TALC's `P` consecutive pairs only (the batch's first `2P` videos,
    paired by the training pipeline's `similar_pairs`).

    Subclasses define `_make_head(name, input_dim)`, returning a Keras layer whose
    `call(features, snippet_mask=None, training=None)` returns a dict with the four
    `SNIPPET_OUTPUTS`.
    """

    def __init__(
        self,
        num_classes: int,
        feature_dims,
        fusion: str = "late",
        casl_weight: float = 0.0,
        casl_margin: float = 0.5,
        weight_decay: float = 0.0,
        casl_pairs: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not is_int(casl_pairs, 0):
            raise ValueError(
                f"{type(self).__name__}: `casl_pairs` must be an int ≥ 0; received {casl_pairs!r}."
            )
        self.casl_pairs = int(casl_pairs)
        if not is_real(weight_decay, 0):
            raise ValueError(
                f"{type(self).__name__}: `weight_decay` must be ≥ 0; received {weight_decay!r}."
            )
        self.weight_decay = float(weight_decay)
        if not is_real(casl_weight, 0):
            raise ValueError(
                f"{type(self).__name__}: `casl_weight` must be ≥ 0; received {casl_weight!r}."
            )
        self.casl_weight = float(casl_weight)
        self.casl_margin = float(casl_margin)
        if not is_int(num_classes, 1):
            raise ValueError(
                f"{type(self).__name__}: `num_classes` must be an int ≥ 1; received "
                f"{num_classes!r}."
            )
        if fusion not in FUSIONS:
            raise ValueError(
                f"{type(self).__name__}: `fusion` must be one of {FUSIONS}; received {fusion!r}."
            )
        self.num_classes = num_classes
        self.feature_dims = normalize_feature_dims(feature_dims)
        self.fusion = fusion
        self.streams = tuple(self.feature_dims)
        if fusion == "concat" or len(self.streams) == 1:
            self.heads = {
                "+".join(self.streams): self._make_head("head", sum(self.feature_dims.values()))
            }
        else:
            self.heads = {
                s: self._make_head(f"{s}_head", self.feature_dims[s]) for s in self.streams
            }
        share_dtype_policy(self)

    # -- inputs -------------------------------------------------------------------------------
    def _unpack(self, inputs):
        if not isinstance(inputs, dict):
            raise ValueError(
                f"{type(self).__name__} expects a dict of inputs with keys {list(self.streams)} "
                f"(and optionally 'mask'); received {type(inputs).__name__}."
            )
        missing = [s for s in self.streams if s not in inputs]
        if missing:
            raise ValueError(
                f"{type(self).__name__}: inputs lack the stream(s) {missing}; "
                f"received keys {sorted(inputs)}."
            )
        features = {}
        for stream in self.streams:
            x = inputs[stream]
            if len(x.shape) != 3 or (
                x.shape[-1] is not None and x.shape[-1] != self.feature_dims[stream]
            ):
                raise ValueError(
                    f"{type(self).__name__}: inputs[{stream!r}] must have shape [batch, time, "
                    f"{self.feature_dims[stream]}]; received {tuple(x.shape)}."
                )
            features[stream] = x
        mask = inputs.get("mask")
        if mask is not None:
            mask = ops.cast(mask, "bool")
        return features, mask

    def _kernel_regularizer(self):
        return keras.regularizers.L2(self.weight_decay / 2.0) if self.weight_decay else None

    def build(self, input_shape):
        for key, head in self.heads.items():
            if not head.built:
                head.build((None, None, sum(self.feature_dims[s] for s in key.split("+"))))
        self.built = True

    # -- outputs ------------------------------------------------------------------------------
    def _head_outputs(self, inputs, training):
        """Each head's output dict (with its `logits` and `features`) and the mask."""
        features, mask = self._unpack(inputs)
        per_head = []
        for key, head in self.heads.items():
            streams = key.split("+")
            x = (
                features[streams[0]]
                if len(streams) == 1
                else ops.concatenate(
                    [ops.cast(features[s], self.compute_dtype) for s in streams], axis=-1
                )
            )
            per_head.append(head(x, snippet_mask=mask, training=training))
        return per_head, mask

    def __call__(self, *args, **kwargs):
        # Under a mixed policy Keras' `__call__` casts float inputs to the compute dtype, so
        # `call` sees new tensors: the forward pass it records is filed here under the tensors the
        # caller passed, the ones `fit` then gives `compute_loss`, so that `training_forward`
        # finds it whatever the inputs' dtype.
        object.__setattr__(self, "_training_forward", None)
        outputs = super().__call__(*args, **kwargs)
        recorded = self._training_forward
        inputs = args[0] if args else kwargs.get("inputs")
        if recorded is not None and isinstance(inputs, dict):
            object.__setattr__(self, "_training_forward", (inputs, *recorded[1:]))
        return outputs

    def snippet_outputs(self, inputs, training=False) -> dict:
        """Video prediction and per-snippet outputs, float32, 0 at padded snippets.

        Returns a dict: `video_scores` `[B, C]`, `snippet_scores` `[B, T, C]` (class
        probabilities), `selection` `[B, T, C]` or `[B, T, 1]` (selection weights),
        `detection_scores` `[B, T, C]` (what temporal detection thresholds). With two heads
        (late fusion) each output is the mean of the heads' outputs.
        """
        per_head, mask = self._head_outputs(inputs, training)
        fused = self._fuse(per_head, mask)
        if training:
            # `compute_loss` reuses this forward pass for the terms that need per-snippet outputs
            # (CASL, frame supervision): one dropout draw for every term of the loss. Set outside
            # Keras' attribute tracking, which would wrap the tensors.
            object.__setattr__(self, "_training_forward", (inputs, per_head, mask, fused))
        return fused

    def _fuse(self, per_head, mask) -> dict:
        fused = {}
        for name in SNIPPET_OUTPUTS:
            values = [ops.cast(outputs[name], "float32") for outputs in per_head]
            fused[name] = values[0] if len(values) == 1 else sum(values) / len(values)
        if mask is not None:
            valid = ops.cast(mask, "float32")[..., None]
            for name in ("snippet_scores", "selection", "detection_scores"):
                fused[name] = fused[name] * valid
        return fused

    def call(self, inputs, training=None):
        return self.snippet_outputs(inputs, training=training)["video_scores"]

    def training_forward(self, x, training=True):
        """(per-head outputs, mask, fused outputs) of `x`: those of the forward pass `fit` just
        made on `x` when there is one (the same dropout masks), else a new pass."""
        cached = getattr(self, "_training_forward", None)
        if (
            cached is not None
            and isinstance(x, dict)
            and cached[0].keys() == x.keys()
            and all(cached[0][key] is x[key] for key in x)
        ):
            return cached[1:]
        per_head, mask = self._head_outputs(x, training)
        return per_head, mask, self._fuse(per_head, mask)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss, plus `casl_weight` × CASL (W-TALC) over each head when training.

        CASL reads the per-snippet logits and features of the same forward pass as the video
        prediction (W-TALC computes both from one pass).
        """
        loss = super().compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training
        )
        if self.casl_weight > 0 and training and y is not None:
            per_head, mask, _ = self.training_forward(x, training)
            casl = sum(
                co_activity_similarity_loss(
                    o["features"], o["logits"], y, mask, self.casl_margin, self.casl_pairs
                )
                for o in per_head
            ) / len(per_head)
            loss = loss + self.casl_weight * casl
        return loss

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "feature_dims": dict(self.feature_dims),
                "fusion": self.fusion,
                "casl_weight": self.casl_weight,
                "casl_margin": self.casl_margin,
                "casl_pairs": self.casl_pairs,
                "weight_decay": self.weight_decay,
            }
        )
        return config
