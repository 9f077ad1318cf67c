"""Inference on every frame (WSGN's): features interpolated per frame, outputs averaged back."""

import numpy as np
import pytest

from keras_wsal.datasets import TemporalAugmentation, make_synthetic_dataset
from keras_wsal.inference import predict_videos
from keras_wsal.inference.predict import predict_features
from keras_wsal.models import WSGN


@pytest.fixture(scope="module")
def model_and_data(tmp_path_factory):
    import keras

    keras.utils.set_random_seed(0)
    data = make_synthetic_dataset(
        tmp_path_factory.mktemp("frames") / "data", num_classes=3, feature_dim=5,
        subsets={"test": 3}, min_length=4, max_length=9, seed=1,
    )  # fmt: skip
    model = WSGN(3, {"features": 5})
    model.build({"features": (None, None, 5)})
    return model, data


def test_frame_outputs_are_the_snippet_means_of_the_model_on_interpolated_frames(model_and_data):
    model, data = model_and_data
    every_frame = TemporalAugmentation(1, 1, 4.0)
    for outputs in predict_videos(model, data, "test", frames_per_snippet=4):
        features = data.load_features(outputs.video)["features"]
        frames = every_frame.resample(features, 0)
        assert len(frames) == 4 * len(features)
        reference = predict_features(model, outputs.video, {"features": frames})
        assert outputs.snippet_scores.shape == (len(features), 3)
        for name in ("snippet_scores", "selection", "detection_scores"):
            by_hand = np.stack(
                [getattr(reference, name)[4 * t : 4 * t + 4].mean(0) for t in range(len(features))]
            )
            np.testing.assert_allclose(getattr(outputs, name), by_hand, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(outputs.video_scores, reference.video_scores, rtol=1e-6)


def test_one_frame_per_snippet_is_the_snippet_inference(model_and_data):
    model, data = model_and_data
    pairs = zip(
        predict_videos(model, data, "test"),
        predict_videos(model, data, "test", frames_per_snippet=1),
        strict=True,
    )
    for plain, frames in pairs:
        np.testing.assert_allclose(frames.detection_scores, plain.detection_scores, rtol=1e-5)
