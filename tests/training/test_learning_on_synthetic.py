"""The models learn from video-level labels only, and their selection finds the planted actions.

A small seeded synthetic dataset (4 classes, 32 training videos) with planted action instances;
segment boundaries are used here only to measure where the trained selection weights go.
"""

import keras
import numpy as np
import pytest

from keras_wsal.datasets import make_synthetic_dataset, make_training_dataset
from keras_wsal.inference import predict_videos
from keras_wsal.models import MODEL_NAMES, build_model, loss_for_model


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_synthetic_dataset(
        tmp_path_factory.mktemp("synthetic"),
        num_classes=4,
        subsets={"validation": 32, "test": 8},
        min_length=40,
        max_length=120,
        seed=0,
    )


def train(dataset, name, steps, learning_rate=3e-3):
    keras.utils.set_random_seed(0)
    model = build_model(name, len(dataset.classes), dict(dataset.feature_dims))
    model.compile(keras.optimizers.Adam(learning_rate), loss_for_model(model))
    batches = make_training_dataset(dataset, "validation", 8, seed=0, repeat=True)
    history = model.fit(batches, steps_per_epoch=steps // 4, epochs=4, shuffle=False, verbose=0)
    return model, history.history["loss"]


def action_to_background_ratio(model, dataset):
    """Median over (test video, its class) of mean selection on action / on background snippets."""
    truth = dataset.ground_truth("test")
    ratios = []
    for outputs in predict_videos(model, dataset, "test", batch_size=8):
        length = len(outputs.snippet_scores)
        for label in sorted({t.label for t in truth if t.video == outputs.video}):
            action = np.zeros(length, bool)
            for t in truth:
                if t.video == outputs.video and t.label == label:
                    action[
                        int(t.start * dataset.feature_fps) : int(
                            np.ceil(t.end * dataset.feature_fps)
                        )
                    ] = True
            column = dataset.classes.index(label) if outputs.selection.shape[1] > 1 else 0
            weights = outputs.selection[:, column]
            if action.any() and not action.all():
                ratios.append(weights[action].mean() / weights[~action].mean())
    return float(np.median(ratios))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_loss_falls(dataset, name):
    _, losses = train(dataset, name, steps=100)
    assert np.all(np.isfinite(losses))
    assert losses[-1] < 0.8 * losses[0], losses


def test_soft_attention_concentrates_on_the_planted_actions(dataset):
    model, _ = train(dataset, "untrimmednet-soft", steps=400)
    # Measured: 2.05 (attention is twice as high on action snippets as on background).
    assert action_to_background_ratio(model, dataset) > 1.5


def test_wsgn_selection_concentrates_on_the_planted_actions(dataset):
    model, _ = train(dataset, "wsgn", steps=400)
    # Measured: 1.16. WSGN's g multiplies class probabilities and is pushed down only where a
    # class fires in videos without it, so its contrast is milder than UntrimmedNet's attention.
    assert action_to_background_ratio(model, dataset) > 1.08
