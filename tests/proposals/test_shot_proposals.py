"""Shot detection finds planted cuts; shot clips follow UntrimmedNet §3.1."""

import numpy as np
import pytest
from skimage.feature import hog

from keras_wsal.proposals import (
    automatic_threshold,
    detect_shots,
    frame_hog,
    hog_differences,
    shot_proposals,
)
from keras_wsal.video import open_video, write_synthetic_video

NUM_FRAMES = 260


# The second video has a one-frame shot (cuts at 150 and 151).
@pytest.mark.parametrize(
    ("suffix", "seed", "cuts"),
    [(".mp4", 3, (40, 95, 130, 200)), (".avi", 11, (17, 78, 150, 151, 231))],
)
def test_planted_cuts_are_found(tmp_path, suffix, seed, cuts):
    path = write_synthetic_video(
        tmp_path / f"cuts{suffix}", num_frames=NUM_FRAMES, size=(160, 120), cuts=cuts, seed=seed
    )
    differences = hog_differences(frame.image for frame in open_video(path).frames())
    assert differences.shape == (NUM_FRAMES - 1,)
    for threshold in (None, 0.05):
        shots = detect_shots(differences, threshold=threshold)
        found = set(shots[1:, 0].tolist())
        true_positives = len(found & set(cuts))
        precision = true_positives / max(len(found), 1)
        recall = true_positives / len(cuts)
        assert precision == 1.0 and recall == 1.0, (threshold, sorted(found), cuts)
        assert shots[0, 0] == 0 and shots[-1, 1] == NUM_FRAMES


def test_static_video_is_one_shot(tmp_path):
    path = write_synthetic_video(tmp_path / "one.avi", num_frames=40, size=(96, 72))
    differences = hog_differences(frame.image for frame in open_video(path).frames())
    np.testing.assert_array_equal(detect_shots(differences), [[0, 40]])


def test_detect_shots_on_hand_made_differences():
    differences = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    # median 3, MAD median(|[-2, -1, 0, 1, 97]|) = 1: threshold 3 + 8 * 1.4826.
    assert automatic_threshold(differences) == pytest.approx(3 + 8 * 1.4826)
    np.testing.assert_array_equal(detect_shots(differences), [[0, 5], [5, 6]])
    np.testing.assert_array_equal(
        detect_shots(differences, threshold=2.5), [[0, 3], [3, 4], [4, 5], [5, 6]]
    )
    # A one-frame video has no differences and is one shot; the floor applies to flat changes.
    np.testing.assert_array_equal(detect_shots(np.zeros(0)), [[0, 1]])
    assert automatic_threshold(np.zeros(9)) == 0.02
    with pytest.raises(ValueError, match="finite"):
        detect_shots(np.array([0.1, np.nan]))
    with pytest.raises(ValueError, match="empty"):
        hog_differences(iter([]))


def test_frame_hog_is_skimage_hog_of_the_downscaled_gray_frame():
    gray = np.random.default_rng(0).integers(0, 256, (60, 80), dtype=np.uint8)
    descriptor = frame_hog(np.repeat(gray[..., None], 3, axis=2))
    # 80x60 pixels: 10x7 cells of 8x8, 9x6 blocks of 2x2 cells, 9 orientations: 54 * 36 values.
    assert descriptor.shape == (9 * 6 * 2 * 2 * 9,)
    expected = hog(gray, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2))
    np.testing.assert_allclose(descriptor, expected)


def test_shot_clips_follow_the_paper():
    shots = np.array([[0, 650], [650, 700], [700, 1000]])
    # Paper: (s_b + (i - 1) K, s_b + i K) for whole clips of K = 300 frames in each shot.
    paper = [[0, 300], [300, 600], [700, 1000]]
    np.testing.assert_array_equal(shot_proposals(shots), paper)  # the paper's rule by default
    with_remainders = shot_proposals(shots, keep_remainder=True)
    np.testing.assert_array_equal(
        with_remainders, [[0, 300], [300, 600], [600, 650], [650, 700], [700, 1000]]
    )
    # With remainders kept the clips tile the video.
    np.testing.assert_array_equal(with_remainders[1:, 0], with_remainders[:-1, 1])
    # A video whose shots are all shorter than K keeps its leftovers rather than have no clip.
    np.testing.assert_array_equal(
        shot_proposals(np.array([[0, 10], [10, 25]])), [[0, 10], [10, 25]]
    )
    np.testing.assert_array_equal(
        shot_proposals(np.array([[0, 10]]), clip_frames=4, keep_remainder=True),
        [[0, 4], [4, 8], [8, 10]],
    )
    np.testing.assert_array_equal(
        shot_proposals(np.array([[0, 10]]), clip_frames=4), [[0, 4], [4, 8]]
    )
    with pytest.raises(ValueError, match="clip_frames"):
        shot_proposals(shots, clip_frames=0)
    with pytest.raises(ValueError, match="end > begin"):
        shot_proposals(np.array([[5, 5]]))
    with pytest.raises(ValueError, match="shots is empty"):
        shot_proposals(np.zeros((0, 2)))
