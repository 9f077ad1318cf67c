"""Every tutorial of examples/ runs end to end at a tiny size and writes what it promises.

The scripts are loaded from their files and run in-process through their `main(argv)`. Beyond the
exit status, each test checks an output against something computed independently: the composed
model against eq. 2 in NumPy, the result tables against a fresh evaluation of the written
detections, the annotations against the labels given, the stand-in's features against the planted
directions.
"""

import importlib.util
import json
import math
import re
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_wsal.datasets import FeatureDataset, synthetic_directions
from keras_wsal.errors import DataError
from keras_wsal.evaluation import evaluate_detection

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WTALC_FIXTURE = (
    Path(__file__).resolve().parents[1] / "datasets" / "fixtures" / "thumos14_mini" / "wtalc"
)


def _example(name: str):
    """The module of `examples/NAME.py` (loaded under a unique name, not as `__main__`)."""
    spec = importlib.util.spec_from_file_location(
        f"keras_wsal_example_{name}", EXAMPLES / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compose_layers_trains_saves_and_explains_one_video(tmp_path, capsys):
    example = _example("compose_layers")
    assert (
        example.main(["--out", str(tmp_path), "--epochs", "2", "--videos", "8", "--classes", "3"])
        == 0
    )
    out = capsys.readouterr().out
    assert "loaded without custom_objects: max |difference| = 0" in out
    padding = float(re.search(r"padding changes nothing: max \|difference\| = (\S+)", out).group(1))
    assert padding < 1e-5

    dataset = FeatureDataset(tmp_path / "dataset")
    video = dataset.videos("test")[0]
    assert (tmp_path / f"{video}.png").stat().st_size > 0
    # The truth strip printed for each ground-truth label has a '#' where the label's segments are.
    labels = {s.label for s in dataset.ground_truth("test") if s.video == video}
    for label in labels:
        strip = re.search(rf"{label}\s+truth \|([#.]+)\|", out).group(1)
        assert "#" in strip and len(strip) == min(dataset.num_snippets(video), example.STRIP_WIDTH)

    # The saved model loads with no custom_objects and computes WSGN's eq. 2: the masked temporal
    # mean of g ⊙ p, with g the mean of ZLoc and SLoc, checked here in NumPy on a padded batch.
    model = keras.saving.load_model(tmp_path / "model.keras")
    features = dataset.load_features(video)["features"]
    padded = np.concatenate([features, np.zeros((5, features.shape[1]), np.float32)])[None]
    mask = np.arange(len(padded[0]))[None] < len(features)
    outputs = example.snippet_model(model)({"features": padded, "mask": mask})
    outputs = {k: keras.ops.convert_to_numpy(v)[0] for k, v in outputs.items()}
    scores = keras.ops.convert_to_numpy(
        keras.Model(model.inputs, model.get_layer("selection_scores").output)(
            {"features": padded, "mask": mask}
        )
    )[0, : len(features)]
    zloc = np.exp(-(((scores - scores.mean(0)) / np.sqrt(scores.var(0) + 1e-6)) ** 2))
    # SLoc's default scale: weights sum to T over the video (average 1).
    sloc = len(scores) * np.exp(scores - scores.max(0)) / np.exp(scores - scores.max(0)).sum(0)
    selection = (zloc + sloc) / 2
    np.testing.assert_allclose(
        outputs["selection"][: len(features)], selection, rtol=1e-4, atol=1e-6
    )
    np.testing.assert_array_equal(outputs["selection"][len(features) :], 0.0)
    expected = (selection * outputs["snippet_scores"][: len(features)]).mean(0)
    np.testing.assert_allclose(outputs["video_scores"], expected, rtol=1e-4, atol=1e-7)


def test_wsgn_ablation_prints_and_saves_its_table(tmp_path, capsys):
    example = _example("wsgn_ablation")
    argv = [
        "--out",
        str(tmp_path),
        "--steps",
        "2",
        "--videos",
        "12",
        "--variants",
        "Naive,Complete",
        "--plots",
        "1",
    ]
    assert example.main(argv) == 0
    out = capsys.readouterr().out
    # Table rows: the name, mAP at 7 tIoU thresholds, their mean, the video mAP.
    rows = [line.split() for line in out.splitlines() if re.match(r"(Naive|Complete)\s+\d", line)]
    assert [row[0] for row in rows] == ["Naive", "Complete"] and all(len(row) == 10 for row in rows)
    results = json.loads((tmp_path / "results.json").read_text())
    assert [r["name"] for r in results] == ["Naive", "Complete"]
    ground_truth = tmp_path / "dataset" / "annotations.json"
    for row, result in zip(rows, results, strict=True):
        again = evaluate_detection(
            ground_truth,
            result["results_file"],
            tiou_thresholds=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7),
            subset="test",
        )
        np.testing.assert_allclose(result["mAP"], again.mAP)
        assert row[1:8] == [f"{100 * m:.1f}" for m in again.mAP]
        assert len(list((Path(result["run_dir"]) / "plots").glob("*.png"))) == 1


def test_videos_to_detections_runs_every_step(tmp_path, capsys):
    example = _example("videos_to_detections")
    argv = [
        "--out",
        str(tmp_path),
        "--per-class",
        "2",
        "--epochs",
        "1",
        "--backbone",
        "mobilenet_v3_small",
        "--quiet",
    ]
    assert example.main(argv) == 0
    out = capsys.readouterr().out
    commands = re.findall(r"^\$ keras-wsal (\w+)", out, flags=re.MULTILINE)
    assert commands == ["extract", "train", "detect", "plot", "plot", "evaluate"]

    labels = json.loads((tmp_path / "labels.json").read_text())
    assert labels == {"class_a_00": ["class_a"], "class_b_00": ["class_b"]}
    database = json.loads((tmp_path / "dataset" / "annotations.json").read_text())["database"]
    assert sorted(database) == ["class_a_00", "class_a_01", "class_b_00", "class_b_01"]
    for video, entry in database.items():
        if video in labels:
            # Video-level labels only: each label spans the whole video.
            assert entry["subset"] == "train"
            assert entry["annotations"] == [
                {"label": labels[video][0], "segment": [0.0, entry["duration"]]}
            ]
        else:
            # Generated test video i = 1 of 7 s: its action scene is frames [0.25 · 175, + 0.35 ·
            # 175).
            assert entry["subset"] == "test" and entry["duration"] == pytest.approx(7.0, abs=0.1)
            assert entry["annotations"] == [{"label": video[:7], "segment": [43 / 25, 104 / 25]}]
    run = tmp_path / "runs" / "wsgn"
    results = json.loads((run / "test_detections.json").read_text())["results"]
    assert set(results) <= {"class_a_01", "class_b_01"}
    for video in ("class_a_01", "class_b_01"):
        snippets = np.load(run / "snippets" / f"{video}.npz")
        assert snippets["snippet_scores"].shape == (
            FeatureDataset(tmp_path / "dataset").num_snippets(video),
            2,
        )
        assert (tmp_path / "plots" / f"{video}.png").stat().st_size > 0
    assert "protocol activitynet, subset test: 2 videos" in out


def test_videos_to_detections_refuses_labels_of_unknown_videos(tmp_path):
    example = _example("videos_to_detections")
    database = {"a": {"subset": "test", "duration": 4.0, "annotations": []}}
    (tmp_path / "annotations.json").write_text(json.dumps({"database": database}))
    with pytest.raises(DataError, match=r"not extracted: \['b'\]"):
        example.label_dataset(tmp_path, {"b": ["x"]}, {})
    with pytest.raises(SystemExit):
        example.main(["--videos", str(tmp_path)])


def test_thumos14_wtalc_on_a_standin(tmp_path, capsys):
    example = _example("thumos14_wtalc")
    standin = tmp_path / "standin"
    argv = [
        "--standin", str(standin), "--standin-annotations", str(WTALC_FIXTURE),
        "--out", str(tmp_path / "out"), "--epochs", "1", "--quiet",
    ]  # fmt: skip
    assert example.main(argv) == 0
    out = capsys.readouterr().out
    assert "6 videos {'test': 4, 'validation': 2}, each [T, 2048]" in out

    # The stand-in: one [floor(duration · 25/16), 2048] array per video, with each annotated
    # class's direction planted (10 ×) on its action snippets.
    names = np.load(standin / example.ANNOTATIONS_DIR / "videoname.npy", allow_pickle=True)
    durations = np.load(WTALC_FIXTURE / "duration.npy", allow_pickle=True)
    features = np.load(standin / example.FEATURES_FILE, allow_pickle=True)
    assert len(features) == len(names) == 6
    classes = [c.decode() for c in np.load(WTALC_FIXTURE / "classlist.npy", allow_pickle=True)]
    directions = synthetic_directions(len(classes), 2048)["features"].class_signal
    first = features[0]
    assert (
        first.shape == (math.floor(durations[0][0] * 25 / 16), 2048) and first.dtype == np.float32
    )
    dataset = FeatureDataset(tmp_path / "out" / "dataset")
    centres = (np.arange(len(first)) + 0.5) * 16 / 25
    segments = [s for s in dataset.ground_truth() if s.video == names[0].decode()]
    inside = np.any([(centres >= s.start) & (centres < s.end) for s in segments], axis=0)
    projection = first @ directions[classes.index(segments[0].label)]
    assert abs(projection[inside].mean() - 10.0) < 0.5 and abs(projection[~inside].mean()) < 0.5

    # The table: both protocols side by side, equal to a fresh evaluation of the detections.
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert set(results) == {"activitynet", "thumos14"}
    table = {
        line.split()[0]: line.split()[1:]
        for line in out.splitlines()
        if re.match(r"\s*(0\.\d|avg)\s", line)
    }
    assert sorted(table) == ["0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "avg"]
    detections = tmp_path / "out" / "runs" / "wsgn" / "test_detections.json"
    for column, protocol in enumerate(("activitynet", "thumos14")):
        again = evaluate_detection(
            dataset.root / "annotations.json", detections, protocol=protocol,
            tiou_thresholds=example.TIOU, subset="test",
        )  # fmt: skip
        np.testing.assert_allclose(results[protocol]["mAP"], again.mAP)
        assert [table[f"{t:.1f}"][column] for t in example.TIOU] == [
            f"{100 * m:.1f}" for m in again.mAP
        ]


@pytest.mark.parametrize(
    "problem, message",
    [
        ("no features", "Thumos14reduced-I3D-JOINTFeatures.npy not found"),
        (
            "wrong size",
            r'video "video_test_0000004" has features of shape \(20, 1024\); expected \[T, 2048\]',
        ),
        (
            "too few",
            r"expected one feature array per video of videoname.npy \(6\), "
            r"got an array of shape \(5,\)",
        ),
    ],
)
def test_thumos14_wtalc_names_what_is_wrong_with_the_files(tmp_path, capsys, problem, message):
    example = _example("thumos14_wtalc")
    annotations = tmp_path / example.ANNOTATIONS_DIR
    annotations.mkdir()
    for path in WTALC_FIXTURE.iterdir():
        (annotations / path.name).write_bytes(path.read_bytes())
    if problem != "no features":
        features = np.empty(6 if problem == "wrong size" else 5, dtype=object)
        for i in range(len(features)):
            features[i] = np.zeros((20, 1024 if i == 2 else 2048), np.float32)
        np.save(tmp_path / example.FEATURES_FILE, features, allow_pickle=True)
    assert example.main(["--wtalc", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("thumos14_wtalc: error: ") and re.search(message, error)
    assert not (tmp_path / "out").exists()
