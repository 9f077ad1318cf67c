"""Streams trained apart, fused at test time (UntrimmedNet §5.2).

UntrimmedNet trains its spatial (RGB) and temporal (flow) streams separately, each with its own
schedule and dropout, and averages their outputs at test time. `fuse_streams` turns models
trained on one stream each (`keras-wsal train --stream rgb`, `--stream flow`) into one
late-fusion model of the same kind: a head per stream holding that model's weights, every output
the mean of the heads' (`SnippetModel`'s `fusion="late"`). Detection, recognition and export then
take it like any other model.
"""

from __future__ import annotations

from collections.abc import Sequence

from keras_wsal.models._base import SnippetModel

# Settings that may differ between the streams' models: they shape training only.
_TRAINING_ONLY = ("name", "feature_dims", "dropout", "fusion", "casl_weight", "weight_decay")


def fuse_streams(models: Sequence[SnippetModel]) -> SnippetModel:
    """One late-fusion model from `models`, each trained on one distinct stream.

    Args:
        models: two or more built keras_wsal models of the same class and settings, each with a
            single stream (`model.streams == ("rgb",)`, ...), the streams all different.

    Returns:
        A built model of the same class with `feature_dims` the union of theirs and
        `fusion="late"`; its head for stream `s` holds the weights of the model trained on `s`,
        so each output is the mean of the models' outputs.

    Raises:
        ValueError: fewer than two models, a model with several streams, a stream given twice,
            or models that differ in class or in a setting other than their stream, dropout,
            CASL weight or weight decay (which shape training only).
    """
    models = list(models)
    if len(models) < 2:
        raise ValueError(f"fuse_streams needs two or more models; received {len(models)}")
    first = models[0]
    streams = []
    for model in models:
        if not isinstance(model, SnippetModel) or len(model.streams) != 1:
            raise ValueError(
                "fuse_streams: every model must be a keras_wsal model trained on one stream; "
                f"received {type(model).__name__} with streams {getattr(model, 'streams', None)}"
            )
        if type(model) is not type(first):
            raise ValueError(
                f"fuse_streams: models of different kinds ({type(first).__name__}, "
                f"{type(model).__name__}) cannot be fused"
            )
        streams.append(model.streams[0])
    if len(set(streams)) != len(streams):
        raise ValueError(f"fuse_streams: each model must have its own stream; received {streams}")
    reference = _model_settings(first)
    for model, stream in zip(models[1:], streams[1:], strict=True):
        differing = sorted(
            key
            for key in set(reference) | set(_model_settings(model))
            if reference.get(key) != _model_settings(model).get(key)
        )
        if differing:
            raise ValueError(
                f"fuse_streams: the {stream!r} model differs from the {streams[0]!r} model in "
                f"{differing}"
            )
    config = first.get_config()
    config.update(
        feature_dims={s: m.feature_dims[s] for s, m in zip(streams, models, strict=True)},
        fusion="late",
        name="+".join(sorted(streams)),
    )
    fused = type(first).from_config(config)
    fused.build({s: (None, None, d) for s, d in fused.feature_dims.items()})
    for stream, model in zip(streams, models, strict=True):
        fused.heads[stream].set_weights(model.heads[stream].get_weights())
    return fused


def _model_settings(model) -> dict:
    return {k: v for k, v in model.get_config().items() if k not in _TRAINING_ONLY}
