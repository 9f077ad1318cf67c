import keras
import numpy as np
import pytest

from keras_wsal.losses import UntrimmedNetLoss, WSGNLoss, co_activity_similarity_loss


def test_untrimmednet_loss_is_eq_5_with_l1_normalised_labels():
    y = np.array([[1, 0, 1], [0, 1, 0], [0, 0, 0]], "float32")
    p = np.array([[0.5, 0.2, 0.3], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]], "float32")
    # By hand: video 0 -(0.5 log 0.5 + 0.5 log 0.3); video 1 -log 0.8; video 2 has no label → 0.
    expected = np.mean([-(0.5 * np.log(0.5) + 0.5 * np.log(0.3)), -np.log(0.8), 0.0])
    np.testing.assert_allclose(float(UntrimmedNetLoss()(y, p)), expected, rtol=1e-6)


def test_losses_are_finite_for_zero_and_one_probabilities():
    y = np.array([[1, 0]], "float32")
    p = np.array([[0.0, 1.0]], "float32")
    assert np.isfinite(float(UntrimmedNetLoss()(y, p)))
    assert np.isfinite(float(WSGNLoss()(y, p)))


def test_wsgn_loss_is_binary_cross_entropy_mean_over_classes():
    y = np.array([[1, 0, 1]], "float32")
    p = np.array([[0.9, 0.2, 0.6]], "float32")
    expected = -np.mean([np.log(0.9), np.log(0.8), np.log(0.6)])
    np.testing.assert_allclose(float(WSGNLoss()(y, p)), expected, rtol=1e-6)


def test_losses_serialize():
    for loss in (UntrimmedNetLoss(), WSGNLoss()):
        restored = keras.losses.deserialize(keras.losses.serialize(loss))
        assert type(restored) is type(loss)


def numpy_casl(features, logits, labels, lengths, margin=0.5, pairs=None):
    """W-TALC's CASL by loops over pairs and classes, float64; `pairs`: the consecutive pairs
    (0, 1), (2, 3), ... of W-TALC's loader, else every two videos."""

    def cosine_distance(a, b):
        return 1 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b))

    def high_low(m, j):
        x = features[m, : lengths[m]].astype("float64")
        s = logits[m, : lengths[m], j].astype("float64")
        a = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
        return a @ x, (1 - a) @ x / max(lengths[m] - 1, 1)

    if pairs is None:
        compared = [(m, n) for m in range(len(labels)) for n in range(len(labels)) if m != n]
    else:
        compared = [(2 * i, 2 * i + 1) for i in range(pairs) if 2 * i + 1 < len(labels)]
    terms = []
    for j in range(labels.shape[1]):
        for m, n in compared:
            if labels[m, j] and labels[n, j]:
                hm, lm = high_low(m, j)
                hn, ln = high_low(n, j)
                d = cosine_distance(hm, hn)
                terms.append(
                    0.5
                    * (
                        max(0, d - cosine_distance(hm, ln) + margin)
                        + max(0, d - cosine_distance(lm, hn) + margin)
                    )
                )
    return np.mean(terms) if terms else 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_casl_matches_a_loop_implementation(seed):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(4, 6, 5)).astype("float32")
    logits = rng.normal(size=(4, 6, 3)).astype("float32")
    labels = np.array([[1, 0, 1], [1, 1, 0], [0, 1, 1], [1, 0, 0]], "float32")
    lengths = [6, 4, 2, 5]
    mask = np.arange(6)[None] < np.array(lengths)[:, None]
    features = np.where(mask[..., None], features, 99.0).astype("float32")
    got = float(co_activity_similarity_loss(features, logits, labels, mask))
    np.testing.assert_allclose(got, numpy_casl(features, logits, labels, lengths), rtol=1e-5)


@pytest.mark.parametrize("pairs", [1, 2, 3])
def test_casl_with_wtalcs_consecutive_pairs_matches_its_loop(pairs):
    rng = np.random.default_rng(pairs)
    features = rng.normal(size=(6, 7, 5)).astype("float32")
    logits = rng.normal(size=(6, 7, 3)).astype("float32")
    # Pairs (0, 1) and (2, 3) share classes; 4 and 5 share class 0 too but only count as a pair
    # when pairs = 3; 0 and 2 share class 0 and never count.
    labels = np.array([[1, 0, 1], [1, 0, 1], [1, 1, 0], [0, 1, 0], [1, 0, 0], [1, 0, 0]], "float32")
    lengths = [7, 5, 3, 7, 2, 6]
    mask = np.arange(7)[None] < np.array(lengths)[:, None]
    got = float(co_activity_similarity_loss(features, logits, labels, mask, pairs=pairs))
    expected = numpy_casl(features, logits, labels, lengths, pairs=pairs)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert not np.isclose(expected, numpy_casl(features, logits, labels, lengths))


def test_casl_is_zero_without_shared_classes():
    labels = np.eye(3, dtype="float32")
    x = np.random.default_rng(0).normal(size=(3, 4, 2)).astype("float32")
    assert (
        float(
            co_activity_similarity_loss(
                x, x[..., :3] if x.shape[-1] >= 3 else np.ones((3, 4, 3), "float32"), labels
            )
        )
        == 0.0
    )
