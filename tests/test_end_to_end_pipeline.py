"""From raw videos to mAP with the command line alone: extract → train → detect → evaluate.

Generated videos of two classes (a red square or a blue disc moving over the synthetic scene
during a planted interval, the bare scene otherwise) go through `keras-wsal extract` (a random
MobileNetV3-Small on 64x64 crops), then, as a user would, the extracted dataset's
annotations.json gets the videos' labels and planted segments; `keras-wsal train` learns from
the labels of the validation videos, `keras-wsal detect` localises in the test videos and
`keras-wsal evaluate --json` scores the detections against the planted segments.
"""

import json

import cv2
import numpy as np

from keras_wsal.cli import main
from keras_wsal.video import synthetic_frame

FPS = 10.0
SIZE = (80, 64)
NUM_FRAMES = 60
# class: (colour, shape) drawn during the action.
CLASSES = {"spin": ((40, 60, 255), "disc"), "wave": ((255, 40, 40), "square")}
# video: (subset, class, first frame, end frame) of its one action.
VIDEOS = {
    "video_a": ("validation", "wave", 15, 35),
    "video_b": ("validation", "spin", 25, 50),
    "video_c": ("validation", "wave", 30, 55),
    "video_d": ("validation", "spin", 5, 30),
    "video_e": ("test", "wave", 20, 40),
    "video_f": ("test", "spin", 30, 52),
}


def _write_video(path, label, begin, end, seed):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE)
    assert writer.isOpened()
    colour, shape = CLASSES[label]
    for index in range(NUM_FRAMES):
        frame = synthetic_frame(index, size=SIZE, seed=seed)
        if begin <= index < end:
            x = 20 + (index - begin) * 2 % 40  # moves: the flow stream sees it too
            if shape == "disc":
                cv2.circle(frame, (x, 32), 16, colour, thickness=-1)
            else:
                cv2.rectangle(frame, (x - 14, 18), (x + 14, 46), colour, thickness=-1)
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


def test_videos_to_detection_map_through_the_command_line(tmp_path, capsys):
    videos = tmp_path / "videos"
    videos.mkdir()
    for seed, (name, (_, label, begin, end)) in enumerate(VIDEOS.items()):
        _write_video(videos / f"{name}.avi", label, begin, end, seed)
    dataset, run = tmp_path / "dataset", tmp_path / "run"

    extract = ["extract", str(videos), str(dataset), "--backbone", "mobilenet_v3_small"]
    extract += ["--frame-size", "80x64", "--crop", "64", "--frame-rate", "10"]
    extract += ["--snippet-frames", "4", "--subset", "validation", "--quiet"]
    assert main(extract) == 0
    assert "extracted 6, skipped 0 (already done), failed 0" in capsys.readouterr().out
    for stream in ("rgb", "flow"):
        # 60 frames at 10 fps, 4 per snippet: 15 snippets of 576 features.
        assert np.load(dataset / "features" / stream / "video_a.npy").shape == (15, 576)

    annotations_path = dataset / "annotations.json"
    database = json.loads(annotations_path.read_text())["database"]
    assert sorted(database) == sorted(VIDEOS)
    assert all(entry["annotations"] == [] for entry in database.values())
    for name, (subset, label, begin, end) in VIDEOS.items():
        database[name]["subset"] = subset
        database[name]["annotations"] = [{"segment": [begin / FPS, end / FPS], "label": label}]
    annotations_path.write_text(json.dumps({"database": database}))

    train = ["train", "--data", str(dataset), "--subset", "validation", "--out", str(run)]
    train += ["--model", "untrimmednet-soft", "--epochs", "15", "--batch-size", "2"]
    train += ["--jit-compile", "off", "--quiet"]
    assert main(train) == 0
    assert json.loads((run / "classes.json").read_text()) == ["spin", "wave"]

    results = tmp_path / "results.json"
    detect = ["detect", "--data", str(dataset), "--subset", "test", "--model", str(run)]
    assert main([*detect, "--out", str(results)]) == 0
    detections = json.loads(results.read_text())["results"]
    assert sorted(detections) == ["video_e", "video_f"]
    for video_detections in detections.values():
        for detection in video_detections:
            assert detection["label"] in CLASSES
            start, end = detection["segment"]
            assert 0 <= start < end <= NUM_FRAMES / FPS + 1e-6

    capsys.readouterr()
    evaluate = ["evaluate", "--ground-truth", str(annotations_path), "--predictions", str(results)]
    assert main([*evaluate, "--subset", "test", "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert scores["num_videos"] == 2 and scores["subset"] == "test"
    assert len(scores["mAP"]) == len(scores["tiou"]) == 7
    assert all(0.0 <= value <= 1.0 for value in [*scores["mAP"], scores["average_mAP"]])
    assert sorted(scores["per_class_AP"]) == ["spin", "wave"]
