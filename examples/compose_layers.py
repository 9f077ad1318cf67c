"""Compose the keras_wsal layers into your own Keras model with the Functional API.

keras_wsal's models (`WSGN`, `UntrimmedNet`) are built from five plain Keras layers, and you can
build your own model from the same layers. This tutorial builds a small WSGN-like model from
Keras layers, trains it with `model.fit` on a generated dataset from video-level labels only,
saves it as `.keras`, loads it back with no `custom_objects`, and prints what it learned about
*when* the actions happen in one test video.

The model, for a video of T snippet features f_t (`[batch, T, D]`) and C classes:

    p_t = softmax(h_cls(f_t))                        per-snippet class probabilities  [B, T, C]
    x_t = h_det(f_t)                                 per-snippet selection scores     [B, T, C]
    g_t = (ZLoc(x)_t + SLoc(x)_t) / 2                frame selection                  [B, T, C]
    ŷ   = (1 / T_valid) Σ_{valid t} g_t ⊙ p_t        video prediction                 [B, C]

ZLoc is `GaussianLocalNorm` (WSGN eq. 3), SLoc is `TemporalSoftmaxNorm` (WSGN eq. 7); ŷ is WSGN's
eq. 2, a masked temporal mean, which Keras' own `GlobalAveragePooling1D` computes when given the
mask. Training compares ŷ with the video's multi-hot labels (binary cross-entropy): no snippet is
ever told whether it is an action. Swap the selection for UntrimmedNet's soft attention with
`keras_wsal.AttentionSelect()([features, probabilities], mask=mask)`, which returns ŷ directly.

The mask. Videos have different lengths, so a batch is padded to its longest video, and a
boolean `mask` `[B, T]` (True = real snippet) travels with the features. The model takes it as a
second `Input` and hands it to every layer that reduces over time (`mask=mask`): ZLoc's mean and
deviation, SLoc's softmax and the final mean then use real snippets only, so padding never changes
a video's outputs. The tutorial checks that: one video alone, and the same video padded in a batch
with a longer one, give the same scores.

    python examples/compose_layers.py                     # about a minute on 2 CPUs
    python examples/compose_layers.py --epochs 2 --videos 16

Look at: the training loss going down; "loaded without custom_objects: max |difference| = 0";
"padding changes nothing: max |difference| = 0"; and the per-snippet strips of one test video,
where the detection score g ⊙ p (a row of ' .:-=+*#%@', low to high) should rise where the ground
truth (`#`) is. Outputs: OUT/dataset/ (the generated dataset), OUT/model.keras (the trained
model) and OUT/VIDEO.png (the test video's ground truth and per-snippet curves).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import keras
import numpy as np

import keras_wsal
from keras_wsal.datasets import FeatureDataset, make_synthetic_dataset, make_training_dataset
from keras_wsal.inference import wsgn_detections
from keras_wsal.plotting import plot_video

# Detection score levels of the text strips, low to high.
LEVELS = " .:-=+*#%@"
STRIP_WIDTH = 80


def build_model(num_classes: int, feature_dim: int, hidden: int = 64) -> keras.Model:
    """The model of the module docstring, with every intermediate output named.

    Naming the layers lets you read any intermediate output of a trained (or loaded) model later,
    with `keras.Model(model.inputs, model.get_layer(NAME).output)`.
    """
    # Named inputs: a dict of inputs matches the `{"features": ..., "mask": ...}` batches of
    # `keras_wsal.datasets.make_training_dataset` by name.
    features = keras.Input((None, feature_dim), name="features")
    mask = keras.Input((None,), dtype="bool", name="mask")
    dropped = keras.layers.Dropout(0.5)(features)
    hidden_cls = keras.layers.Dense(hidden, activation="relu", name="cls_hidden")(dropped)
    probabilities = keras.layers.Dense(num_classes, activation="softmax", name="snippet_scores")(
        hidden_cls
    )
    hidden_det = keras.layers.Dense(hidden, activation="relu", name="det_hidden")(dropped)
    selection_scores = keras.layers.Dense(num_classes, name="selection_scores")(hidden_det)
    # The mask goes to each layer that computes statistics over time: without it, ZLoc's mean
    # and SLoc's softmax would count the padded steps of shorter videos.
    zloc = keras_wsal.GaussianLocalNorm(name="zloc")(selection_scores, mask=mask)
    sloc = keras_wsal.TemporalSoftmaxNorm(name="sloc")(selection_scores, mask=mask)
    selection = keras.layers.Average(name="selection")([zloc, sloc])
    detection = keras.layers.Multiply(name="detection_scores")([selection, probabilities])
    # A masked mean over time: GlobalAveragePooling1D divides by the number of real snippets.
    video = keras.layers.GlobalAveragePooling1D(name="video_scores")(detection, mask=mask)
    return keras.Model({"features": features, "mask": mask}, video, name="my_wsgn")


def snippet_model(model: keras.Model) -> keras.Model:
    """The same weights, returning the per-snippet outputs as well as the video prediction."""
    names = ("video_scores", "snippet_scores", "selection", "detection_scores")
    return keras.Model(model.inputs, {name: model.get_layer(name).output for name in names})


def _pool(values: np.ndarray) -> np.ndarray:
    """`values` max-pooled to at most STRIP_WIDTH columns (one character each)."""
    return np.array([c.max() for c in np.array_split(values, min(len(values), STRIP_WIDTH))])


def _strip(values: np.ndarray) -> str:
    """`values` as levels of LEVELS, from 0 (space) to the maximum ('@')."""
    levels = np.round(_pool(values) / max(values.max(), 1e-12) * (len(LEVELS) - 1)).astype(int)
    return "".join(LEVELS[level] for level in levels)


def _truth_per_snippet(segments, num_snippets: int, feature_fps: float) -> np.ndarray:
    """1 where a snippet's centre lies in one of the `(start, end)` segments (seconds), else 0."""
    centres = (np.arange(num_snippets) + 0.5) / feature_fps
    inside = np.zeros(num_snippets)
    for start, end in segments:
        inside[(centres >= start) & (centres < end)] = 1.0
    return inside


def _numpy(outputs: dict) -> dict[str, np.ndarray]:
    return {name: keras.ops.convert_to_numpy(value) for name, value in outputs.items()}


def show_video(model: keras.Model, dataset: FeatureDataset, video: str, out: Path) -> Path:
    """Print the per-snippet detection scores of `video` next to its ground truth; draw them."""
    features = dataset.load_features(video)["features"]
    num_snippets = len(features)
    # A batch of one video: every snippet is real, so the mask is all True.
    inputs = {"features": features[None], "mask": np.ones((1, num_snippets), bool)}
    outputs = {k: v[0] for k, v in _numpy(snippet_model(model)(inputs, training=False)).items()}
    truth = [s for s in dataset.ground_truth() if s.video == video]
    classes = dataset.classes
    print(f"\n{video}: {num_snippets} snippets, {num_snippets / dataset.feature_fps:.1f} s")
    scores = zip(classes, outputs["video_scores"], strict=True)
    print("video scores ŷ: " + ", ".join(f"{c} {s:.2f}" for c, s in scores))
    shown = sorted({s.label for s in truth} | {classes[int(np.argmax(outputs["video_scores"]))]})
    for label in shown:
        column = classes.index(label)
        inside = _truth_per_snippet(
            [(s.start, s.end) for s in truth if s.label == label], num_snippets, dataset.feature_fps
        )
        curve = outputs["detection_scores"][:, column]
        print(f"  {label:<10} truth |{''.join('#' if v else '.' for v in _pool(inside))}|")
        print(f"  {'':<10} g ⊙ p |{_strip(curve)}|  (max {curve.max():.3f})")
    # The detection rule of `keras-wsal detect` for WSGN works on any model's g ⊙ p.
    detections = wsgn_detections(
        outputs["detection_scores"],
        dataset.feature_fps,
        classes,
        video_scores=outputs["video_scores"],
    )
    print(f"{len(detections)} detections (WSGN's rule), best first:")
    for found in sorted(detections, key=lambda d: -d["score"])[:5]:
        start, end = found["segment"]
        print(f"  {found['label']:<10} {start:6.1f} s – {end:6.1f} s  score {found['score']:.3f}")
    return plot_video(
        out / f"{video}.png",
        video,
        [{"label": s.label, "segment": [s.start, s.end]} for s in truth],
        detections,
        outputs["snippet_scores"],
        outputs["selection"],
        dataset.feature_fps,
        classes,
        duration=dataset.duration(video),
    )


def check_padding(model: keras.Model, dataset: FeatureDataset, short: str, long: str) -> float:
    """The largest change padding makes to `short`'s outputs (batched with the longer `long`)."""
    a, b = (dataset.load_features(v)["features"] for v in (short, long))
    alone = _numpy(snippet_model(model)({"features": a[None], "mask": np.ones((1, len(a)), bool)}))
    # Pad `a` with zeros to the length of `b`; the mask marks the padding False.
    padded = np.zeros((2, len(b), a.shape[1]), np.float32)
    padded[0, : len(a)], padded[1] = a, b
    mask = np.zeros((2, len(b)), bool)
    mask[0, : len(a)], mask[1] = True, True
    batched = _numpy(snippet_model(model)({"features": padded, "mask": mask}))
    # Video scores are [B, C]; the per-snippet outputs [B, T, C] are compared on a's real steps.
    return max(
        float(np.abs(batched[k][0, : len(a)] - alone[k][0]).max())
        for k in ("video_scores", "snippet_scores", "selection", "detection_scores")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default="compose_layers_output", help="output folder")
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument(
        "--videos", type=int, default=64, help="training videos (a third as many test videos)"
    )
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = Path(args.out)
    keras.utils.set_random_seed(args.seed)

    # 1. A generated dataset: untrimmed videos with planted action instances (D = 32 features).
    dataset = make_synthetic_dataset(
        out / "dataset",
        num_classes=args.classes,
        subsets={"validation": args.videos, "test": max(2, args.videos // 3)},
        min_length=40,
        max_length=160,
        seed=args.seed,
    )
    print(
        f"dataset: {dataset.root}, classes {dataset.classes}, {len(dataset.videos('validation'))} "
        "training videos"
    )

    # 2. Batches of (inputs, labels): inputs {"features": [B, T, D], "mask": [B, T]} padded to
    # the longest video of the batch; labels multi-hot [B, C]. Only labels, no segments.
    batches = make_training_dataset(
        dataset, "validation", batch_size=8, max_length=None, seed=args.seed
    )
    model = build_model(len(dataset.classes), dataset.feature_dims["features"])
    model.summary(line_length=120)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.BinaryCrossentropy())
    # The pipeline reshuffles the videos every epoch itself, so fit must not try to.
    history = model.fit(batches, epochs=args.epochs, shuffle=False, verbose=0)
    losses = history.history["loss"]
    print(f"training loss: epoch 1 {losses[0]:.4f} → epoch {len(losses)} {losses[-1]:.4f}")

    # 3. Save and load back. The keras_wsal layers are registered as Keras serializables, so
    # `load_model` needs no `custom_objects`.
    path = out / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    test_videos = dataset.videos("test")
    probe = {"features": dataset.load_features(test_videos[0])["features"][None]}
    probe["mask"] = np.ones(probe["features"].shape[:2], bool)
    difference = np.abs(keras.ops.convert_to_numpy(model(probe) - loaded(probe))).max()
    print(f"saved {path}; loaded without custom_objects: max |difference| = {difference:.2g}")

    # 4. The mask at work: a video alone and the same video padded in a batch agree.
    by_length = sorted(test_videos, key=dataset.num_snippets)
    change = check_padding(loaded, dataset, by_length[0], by_length[-1])
    print(f"padding changes nothing: max |difference| = {change:.2g}")

    # 5. What the model learned about *when*: one test video's per-snippet scores.
    picture = show_video(loaded, dataset, test_videos[0], out)
    print(f"\nwrote {picture}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
