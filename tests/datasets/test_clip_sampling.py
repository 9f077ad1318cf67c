"""UntrimmedNet's clip input on features: TSN's consensus of 3 snippets per sampled clip."""

import numpy as np
import pytest

from keras_wsal.datasets import ClipSampling, WeakLabels, make_training_dataset_from_weak_labels


def test_each_clip_is_the_mean_of_one_snippet_per_third():
    # Clips of exactly 3 snippets: each third holds one snippet, so the consensus is fixed.
    features = {"features": np.arange(12, dtype=np.float32)[:, None]}
    proposals = np.array([[0, 3], [3, 6], [6, 9], [9, 12]])
    sampling = ClipSampling(num_clips=4, num_segments=3)
    clips = sampling.clip_features(features, proposals, np.random.default_rng(0))
    np.testing.assert_allclose(clips["features"][:, 0], [1.0, 4.0, 7.0, 10.0])


def test_clips_are_drawn_without_replacement_in_time_order_and_streams_share_snippets():
    rng = np.random.default_rng(3)
    rgb = rng.normal(size=(300, 5)).astype(np.float32)
    features = {"rgb": rgb, "flow": 2.0 * rgb}
    proposals = np.stack([np.arange(0, 300, 10), np.arange(10, 310, 10)], axis=1)
    sampling = ClipSampling(num_clips=7, num_segments=3)
    clips = sampling.clip_features(features, proposals, np.random.default_rng(1))
    assert clips["rgb"].shape == (7, 5)
    np.testing.assert_allclose(clips["flow"], 2.0 * clips["rgb"], rtol=1e-6)
    # Recover each clip: its mean must be that of 3 snippets, one in each third of one proposal
    # (TSN's thirds of 10 snippets: floor((k + u) · 10 / 3) is in 0..3, 3..6 and 6..9).
    found = []
    for clip in clips["rgb"]:
        matches = [
            p
            for p, (b, e) in enumerate(proposals)
            if any(
                np.allclose(clip, (rgb[i] + rgb[j] + rgb[k]) / 3, atol=1e-5)
                for i in range(b, b + 4)
                for j in range(b + 3, b + 7)
                for k in range(b + 6, e)
            )
        ]
        assert len(matches) == 1
        found.append(matches[0])
    assert found == sorted(set(found))  # 7 different proposals, in time order


def test_a_video_with_fewer_proposals_repeats_them():
    features = {"features": np.arange(6, dtype=np.float32)[:, None]}
    sampling = ClipSampling(num_clips=7, num_segments=3)
    clips = sampling.clip_features(features, np.array([[0, 6]]), np.random.default_rng(0))
    assert clips["features"].shape == (7, 1)
    assert np.all((clips["features"] >= 0.5) & (clips["features"] <= 4.5))


def test_the_pipeline_gives_fixed_size_clip_batches(tmp_path):
    rng = np.random.default_rng(0)
    lengths = {"a": 40, "b": 3, "c": 90}
    files = {v: rng.normal(size=(n, 4)).astype(np.float32) for v, n in lengths.items()}
    labels = WeakLabels(("x", "y"), ("a", "b", "c"), np.eye(2, dtype=np.float32)[[0, 1, 0]])
    batches = make_training_dataset_from_weak_labels(
        labels,
        lambda video: {"features": files[video]},
        list(lengths.values()),
        {"features": 4},
        batch_size=3,
        shuffle=False,
        seed=0,
        clip_sampling=ClipSampling(num_clips=7, num_segments=3, clip_snippets=10),
    )
    inputs, multi_hot = next(iter(batches))
    assert inputs["features"].shape == (3, 7, 4)
    assert inputs["mask"].numpy().all()
    np.testing.assert_array_equal(multi_hot.numpy(), [[1, 0], [0, 1], [1, 0]])
    # Video "b" (3 snippets) has one clip [0, 3): its 7 clips are the mean of its 3 snippets.
    np.testing.assert_allclose(
        inputs["features"][1].numpy(), np.repeat(files["b"].mean(0)[None], 7, 0), rtol=1e-5
    )


def test_nan_in_a_video_names_it():
    import tensorflow as tf

    bad = np.ones((6, 2), np.float32)
    bad[:, 1] = np.nan
    labels = WeakLabels(("x",), ("v",), np.ones((1, 1), np.float32))
    batches = make_training_dataset_from_weak_labels(
        labels, lambda video: {"features": bad}, [6], {"features": 2}, batch_size=1,
        clip_sampling=ClipSampling(clip_snippets=3),
    )  # fmt: skip
    with pytest.raises(tf.errors.InvalidArgumentError, match='video "v": .* has NaN or inf'):
        next(iter(batches))


@pytest.mark.parametrize(
    ("settings", "message"),
    [({"num_clips": 0}, "`num_clips`"), ({"proposals": "scenes"}, "`proposals`")],
)
def test_bad_settings_are_named(settings, message):
    with pytest.raises(ValueError, match=message):
        ClipSampling(**settings)
