"""Several train steps per call into the compiled step: the same updates, and exactly the
run's steps."""

import numpy as np
import pytest
from training_helpers import write_tiny_dataset

from keras_wsal.training import TrainConfig, train
from keras_wsal.training import trainer as trainer_module


@pytest.mark.parametrize(
    "checkpoint_every, expected", [(20, 10), (40, 10), (6, 2), (7, 1), (1, 1), (15, 5)]
)
def test_steps_per_execution_divides_a_round(checkpoint_every, expected):
    chosen = trainer_module._steps_per_execution(checkpoint_every)
    assert chosen == expected and checkpoint_every % chosen == 0


def _weights_after(tmp_path, name, steps_per_execution, monkeypatch):
    monkeypatch.setattr(trainer_module, "STEPS_PER_EXECUTION", steps_per_execution)
    config = TrainConfig(
        data=tmp_path / "data", subset="train", model="wsgn", out=tmp_path / name,
        steps=12, checkpoint_every=6, batch_size=2, precision="float32",
    )  # fmt: skip
    result = train(config, verbose=0)
    assert result.steps == 12
    return [np.asarray(w) for w in result.model.weights]


def test_several_steps_per_execution_give_the_same_weights_as_one(tmp_path, monkeypatch):
    write_tiny_dataset(tmp_path / "data")
    one = _weights_after(tmp_path, "one", 1, monkeypatch)
    several = _weights_after(tmp_path, "several", 3, monkeypatch)  # two executions of 3 a round
    for a, b in zip(one, several, strict=True):
        np.testing.assert_array_equal(a, b)
