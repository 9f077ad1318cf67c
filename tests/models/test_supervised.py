import keras
import numpy as np
import pytest
from model_test_case import padded_inputs, run_model_test

from keras_wsal.datasets.frame_labels import frame_labels
from keras_wsal.losses import WSGNLoss
from keras_wsal.models import SupervisedWSGN
from keras_wsal.models.supervised import FRAME_LABELS, frame_supervision_loss


def numpy_bce(y, p):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean(-1)


def test_frame_loss_matches_numpy_on_valid_steps():
    rng = np.random.default_rng(3)
    labels = (rng.random((2, 5, 3)) > 0.6).astype("float32")
    scores = rng.random((2, 5, 3)).astype("float32")
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]], bool)
    expected = np.mean([numpy_bce(labels[b, mask[b]], scores[b, mask[b]]).mean() for b in range(2)])
    got = keras.ops.convert_to_numpy(frame_supervision_loss(labels, scores, mask))
    assert got == pytest.approx(expected, rel=1e-5)


def test_training_loss_is_video_bce_plus_mean_frame_bce():
    """L(y, ŷ) + (1/T) Σ_t L(y_t, ŷ_t), ŷ_t = g ⊙ softmax(h_cls), from one forward pass."""
    model = SupervisedWSGN(3, 4, hidden_dim=5, dropout=0.0)
    rng = np.random.default_rng(0)
    x = {"features": rng.normal(size=(2, 6, 4)).astype("float32"), "mask": np.ones((2, 6), bool)}
    x[FRAME_LABELS] = (rng.random((2, 6, 3)) > 0.5).astype("float32")
    y = np.array([[1, 0, 0], [0, 1, 1]], "float32")
    model.compile(loss=WSGNLoss())
    y_pred = model(x, training=True)
    outputs = {k: keras.ops.convert_to_numpy(v) for k, v in model.snippet_outputs(x).items()}
    loss = keras.ops.convert_to_numpy(model.compute_loss(x=x, y=y, y_pred=y_pred, training=True))
    video = numpy_bce(y, outputs["video_scores"]).mean()
    frames = numpy_bce(x[FRAME_LABELS], outputs["detection_scores"]).mean()
    assert loss == pytest.approx(video + frames, rel=1e-5)


def test_frame_labels_from_segments_by_snippet_centre():
    # fps 2: snippet t covers [t/2, (t+1)/2), centre (t + 0.5) / 2.
    segments = [("A", 0.5, 1.6), ("B", 2.0, 2.3), ("Ambiguous", 0.0, 3.0)]
    labels = frame_labels(segments, ["A", "B"], 6, 2.0)
    np.testing.assert_array_equal(labels[:, 0], [0, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(labels[:, 1], [0, 0, 0, 0, 1, 0])


def test_run_model_test(tmp_path):
    inputs, labels = padded_inputs({"features": 4})
    inputs[FRAME_LABELS] = np.repeat(labels[:, None, :], 9, axis=1)
    run_model_test(
        SupervisedWSGN,
        {"num_classes": 3, "feature_dims": 4, "hidden_dim": 5},
        inputs,
        labels,
        tmp_path,
    )
