"""Clip proposals from snippet features, against hand-built videos."""

import numpy as np
import pytest

from keras_wsal.proposals.snippet_proposals import (
    clip_snippets_for,
    feature_differences,
    snippet_proposals,
)


def _two_shots(length=37, change=20, dim=4):
    """Features constant within two shots, with a small wobble; the scene changes at `change`."""
    rng = np.random.default_rng(0)
    features = rng.normal(0.0, 0.01, (length, dim))
    features[change:] += 5.0
    return features


def test_ten_seconds_of_snippets():
    assert clip_snippets_for(1.5625) == 16  # I3D at 25 fps, 16 frames a snippet: 15.6 → 16
    assert clip_snippets_for(30.0) == 300  # one snippet per frame: K = 300 frames
    assert clip_snippets_for(0.01) == 1
    with pytest.raises(ValueError, match="feature_fps"):
        clip_snippets_for(0.0)


def test_differences_are_the_mean_absolute_change():
    features = np.array([[0.0, 0.0], [1.0, -3.0], [1.0, -3.0]])
    np.testing.assert_allclose(feature_differences(features), [2.0, 0.0])
    assert feature_differences(np.zeros((1, 3))).shape == (0,)


def test_uniform_clips_tile_the_video():
    clips = snippet_proposals(np.zeros((35, 2)), "uniform", 10)
    np.testing.assert_array_equal(clips, [[0, 8], [8, 17], [17, 26], [26, 35]])  # ⌈35/10⌉ = 4


def test_shot_clips_follow_the_papers_rule_and_drop_the_leftovers():
    # Shots [0, 20) and [20, 37); clips of K = 8 from each shot's start; leftovers dropped.
    clips = snippet_proposals(_two_shots(), "shot", 8)
    np.testing.assert_array_equal(clips, [[0, 8], [8, 16], [20, 28], [28, 36]])
    kept = snippet_proposals(_two_shots(), "shot", 8, keep_remainder=True)
    np.testing.assert_array_equal(kept, [[0, 8], [8, 16], [16, 20], [20, 28], [28, 36], [36, 37]])


def test_an_absolute_threshold_above_every_change_gives_one_shot():
    clips = snippet_proposals(_two_shots(), "shot", 8, threshold=100.0)
    np.testing.assert_array_equal(clips, [[0, 8], [8, 16], [16, 24], [24, 32]])


@pytest.mark.parametrize("length", [1, 5])
def test_a_video_shorter_than_a_clip_still_gets_one(length):
    np.testing.assert_array_equal(
        snippet_proposals(np.ones((length, 3)), "shot", 10), [[0, length]]
    )
    np.testing.assert_array_equal(
        snippet_proposals(np.ones((length, 3)), "uniform", 10), [[0, length]]
    )


@pytest.mark.parametrize(
    ("features", "method", "clip", "message"),
    [
        (np.zeros((0, 3)), "shot", 4, "non-empty"),
        (np.zeros(5), "shot", 4, "non-empty"),
        (np.zeros((5, 3)), "scenes", 4, "method must be one of"),
        (np.zeros((5, 3)), "shot", 0, "clip_snippets must be"),
    ],
)
def test_bad_arguments_are_named(features, method, clip, message):
    with pytest.raises(ValueError, match=message):
        snippet_proposals(features, method, clip)
