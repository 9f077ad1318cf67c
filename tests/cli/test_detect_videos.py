"""`keras-wsal detect VIDEOS --model RUN`: the run extracts its own features from video files and
detects exactly as `extract` + `detect --data` do on the same videos."""

import json

import numpy as np
import pytest

from keras_wsal.cli import main
from keras_wsal.datasets import make_synthetic_dataset
from keras_wsal.video import write_synthetic_video

SMALL = ["--backbone", "mobilenet_v3_small", "--crop", "32", "--frame-size", "40x32",
         "--frame-rate", "10", "--snippet-frames", "4"]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Four generated videos, their features (`extract`), labels added, a trained Naive run."""
    root = tmp_path_factory.mktemp("videos_to_detections")
    videos = root / "videos"
    videos.mkdir()
    for index in range(4):
        write_synthetic_video(
            videos / f"clip_{index}.avi", num_frames=30 + 5 * index, size=(48, 40), seed=index
        )
    dataset = root / "dataset"
    assert main(["extract", str(videos), str(dataset), *SMALL, "--quiet"]) == 0
    annotations = json.loads((dataset / "annotations.json").read_text())
    for index, entry in enumerate(annotations["database"].values()):
        label = "Jump" if index % 2 else "Run"
        entry["annotations"] = [{"label": label, "segment": [0.5, 1.5]}]
    (dataset / "annotations.json").write_text(json.dumps(annotations))
    run = root / "run"
    subset = next(iter(annotations["database"].values()))["subset"]
    train = ["train", "--data", str(dataset), "--subset", subset, "--model", "naive",
             "--out", str(run), "--steps", "2", "--batch-size", "2", "--validation-fraction", "0",
             "--quiet"]  # fmt: skip
    assert main(train) == 0
    return root, videos, dataset, subset, run


def _results(path):
    return json.loads(path.read_text())["results"]


def test_detect_on_videos_equals_extract_then_detect(trained, capsys):
    root, videos, dataset, subset, run = trained
    from_features = root / "from_features.json"
    from_videos = root / "from_videos.json"
    common = ["--model", str(run), "--rule", "wsgn", "--thresholds", "0.3"]
    assert main(["detect", "--data", str(dataset), "--subset", subset, *common,
                 "--out", str(from_features)]) == 0  # fmt: skip
    assert main(["detect", str(videos), *common, "--out", str(from_videos),
                 "--plot", str(root / "plots")]) == 0  # fmt: skip
    expected, got = _results(from_features), _results(from_videos)
    assert sorted(got) == sorted(expected) == [f"clip_{i}" for i in range(4)]
    assert sum(map(len, got.values())) > 0
    for video, segments in expected.items():
        assert [s["label"] for s in got[video]] == [s["label"] for s in segments]
        np.testing.assert_allclose(
            [s["segment"] + [s["score"]] for s in got[video]],
            [s["segment"] + [s["score"]] for s in segments],
            rtol=1e-4, atol=1e-5,
        )  # fmt: skip
    assert sorted(p.name for p in (root / "plots").iterdir()) == [f"clip_{i}.png" for i in range(4)]
    one = root / "one.json"
    assert main(["detect", str(videos / "clip_2.avi"), *common, "--out", str(one)]) == 0
    assert _results(one) == {"clip_2": got["clip_2"]}


def test_a_run_on_features_made_elsewhere_says_what_to_do(trained, tmp_path, capsys):
    _, videos, _, _, _ = trained
    data = make_synthetic_dataset(tmp_path / "d", num_classes=2, subsets={"train": 4}, seed=0)
    run = tmp_path / "run"
    assert main(["train", "--data", str(data.root), "--subset", "train", "--model", "naive",
                 "--out", str(run), "--steps", "1", "--validation-fraction", "0",
                 "--quiet"]) == 0  # fmt: skip
    capsys.readouterr()
    assert (
        main(["detect", str(videos), "--model", str(run), "--out", str(tmp_path / "r.json")]) == 2
    )
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "`keras-wsal extract` did not make" in error and "--data DATASET" in error


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "give either VIDEOS (video files) or --data with --subset"),
        (["VIDEOS", "--data", "d"], "give either VIDEOS"),
        (["--data", "d"], "--data needs --subset"),
        (["VIDEOS", "--subset", "test"], "--subset goes with --data"),
    ],
)
def test_source_arguments(tmp_path, capsys, argv, message):
    argv = [str(tmp_path) if a == "VIDEOS" else a for a in argv]
    assert main(["detect", *argv, "--model", "m", "--out", str(tmp_path / "r.json")]) == 2
    assert message in capsys.readouterr().err
