"""The stopping rule: held-out training videos scored from video labels pick the checkpoint."""

import json

import numpy as np
import pytest
from training_helpers import NUM_VIDEOS, write_tiny_dataset

from keras_wsal.cli import main
from keras_wsal.datasets import feature_dataset
from keras_wsal.datasets.feature_dataset import FeatureDataset
from keras_wsal.errors import DataError
from keras_wsal.formats import annotations
from keras_wsal.inference.detection_rule import top_k_class_scores
from keras_wsal.training import TrainConfig, load_run_model, train
from keras_wsal.training.held_out import split_held_out, video_map


def test_split_is_seeded_disjoint_and_rounds():
    videos = [f"v{i}" for i in range(20)]
    kept, held = split_held_out(videos, 0.1, seed=3)
    assert len(held) == 2 and sorted(kept + held) == sorted(videos) and not set(kept) & set(held)
    assert split_held_out(videos, 0.1, seed=3) == (kept, held)
    assert split_held_out(videos, 0.1, seed=4)[1] != held
    assert split_held_out(videos[:4], 0.1, seed=0) == (videos[:4], [])  # rounds to none
    assert split_held_out(videos, 0.0, seed=0) == (videos, [])
    with pytest.raises(DataError, match="leaves none to train on"):
        split_held_out(videos[:2], 0.9, seed=0)


def test_scores_by_hand():
    curve = np.array(
        [
            [0.0, 1.0],
            [4.0, 1.0],
            [2.0, 1.0],
            [0.0, 1.0],
            [0.0, 9.0],
            [0.0, 1.0],
            [0.0, 1.0],
            [0.0, 1.0],
            [6.0, 1.0],
        ]
    )
    # ⌈9/8⌉ = 2 highest: class 0 → (6 + 4) / 2, class 1 → (9 + 1) / 2.
    np.testing.assert_allclose(top_k_class_scores(curve), [5.0, 5.0])
    scores = np.array([[0.9, 0.1], [0.8, 0.7], [0.1, 0.2]])
    labels = np.array([[1, 0], [0, 1], [1, 0]])
    # Class 0: ranks 1 (+), 2 (-), 3 (+): AP (1 + 2/3) / 2; class 1: rank 1 (+): AP 1.
    assert video_map(scores, labels) == pytest.approx(((1 + 2 / 3) / 2 + 1) / 2)


def test_training_keeps_the_best_held_out_round_and_never_reads_a_segment(tmp_path, monkeypatch):
    write_tiny_dataset(tmp_path / "data")

    def forbidden(*args, **kwargs):
        raise AssertionError("training read segment boundaries")

    monkeypatch.setattr(FeatureDataset, "ground_truth", forbidden)
    monkeypatch.setattr(annotations, "parse_segments", forbidden)
    monkeypatch.setattr(annotations, "segment_pair", forbidden)
    monkeypatch.setattr(feature_dataset, "parse_segments", forbidden)
    config = TrainConfig(
        data=tmp_path / "data",
        subset="train",
        model="wsgn",
        out=tmp_path / "run",
        steps=6,
        batch_size=2,
        validation_fraction=0.25,
        checkpoint_every=2,
    )
    result = train(config, verbose=0)
    selection = json.loads((tmp_path / "run" / "selection.json").read_text())
    assert len(selection["videos"]) == round(0.25 * NUM_VIDEOS) and selection["round"] in (1, 2, 3)
    assert result.selection == selection and result.steps == 6
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    scores = [h["held_out_mAP"] for h in history]
    assert selection["held_out_mAP"] == max(scores) == scores[selection["round"] - 1]
    loaded, _ = load_run_model(tmp_path / "run")
    best = type(loaded).from_config(loaded.get_config())
    best.build({"features": (None, None, 8)})
    best.load_weights(tmp_path / "run" / "best.weights.h5")
    for a, b in zip(loaded.weights, best.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_a_share_that_leaves_nothing_to_train_is_a_one_line_error(tmp_path, capsys):
    write_tiny_dataset(tmp_path / "data")
    argv = [
        "train",
        "--data",
        str(tmp_path / "data"),
        "--subset",
        "train",
        "--model",
        "naive",
        "--out",
        str(tmp_path / "run"),
        "--validation-fraction",
        "0.99",
        "--quiet",
    ]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert (
        error.count("\n") == 1
        and "validation_fraction=0.99" in error
        and "leaves none to train on" in error
    )
    assert not (tmp_path / "run").exists()


def test_supervised_needs_segments(tmp_path, capsys):
    dataset = write_tiny_dataset(tmp_path / "data")
    path = dataset.root / "annotations.json"
    content = json.loads(path.read_text())
    for entry in content["database"].values():
        entry["annotations"] = []
    path.write_text(json.dumps(content))
    argv = [
        "train",
        "--data",
        str(dataset.root),
        "--subset",
        "train",
        "--model",
        "supervised",
        "--out",
        str(tmp_path / "run"),
        "--quiet",
    ]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "frame supervision needs annotated segments" in error
    assert str(path) in error


def test_unknown_recipe_is_an_argument_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "train",
                "--data",
                "d",
                "--subset",
                "s",
                "--model",
                "wsgn",
                "--out",
                "o",
                "--recipe",
                "fastest",
            ]
        )
    assert exit_info.value.code == 2
    assert "argument --recipe: invalid choice: 'fastest'" in capsys.readouterr().err
