"""`UntrimmedNetVideo` (UntrimmedNet with its backbone inside) through the shared model checks;
its equations and training are tested in tests/training/test_end_to_end_training.py."""

import numpy as np
import pytest
from model_test_case import run_model_test

from keras_wsal.models import UntrimmedNetVideo


@pytest.mark.parametrize("mode", ["soft", "hard"])
def test_run_model_test(tmp_path, mode):
    rng = np.random.default_rng(0)
    inputs = {
        "rgb": rng.normal(size=(3, 4, 2, 32, 32, 3)).astype("float32"),
        "mask": np.arange(4)[None, :] < np.array([4, 2, 1])[:, None],
    }
    labels = np.eye(3, dtype="float32")
    init = {
        "num_classes": 3,
        "backbone": "mobilenet_v3_small",
        "input_size": 32,
        "num_segments": 2,
        "mode": mode,
        "dropout": 0.0,
    }
    run_model_test(UntrimmedNetVideo, init, inputs, labels, tmp_path)
