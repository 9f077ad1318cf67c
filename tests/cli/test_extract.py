"""`keras-wsal extract` on tiny generated videos with a small backbone (MobileNetV3-Small, 64²)."""

import json

import numpy as np
import pytest

from keras_wsal.cli import main
from keras_wsal.extraction import ExtractionSettings, extract_video_features, make_streams
from keras_wsal.video import write_synthetic_video

SETTINGS = ExtractionSettings(
    frame_rate=10.0,
    snippet_frames=4,
    frame_size=(80, 64),
    crop=64,
    backbone="mobilenet_v3_small",
)
FLAGS = [
    "--backbone",
    "mobilenet_v3_small",
    "--frame-size",
    "80x64",
    "--crop",
    "64",
    "--frame-rate",
    "10",
    "--snippet-frames",
    "4",
]


@pytest.fixture(scope="module")
def streams(tmp_path_factory):
    """The two streams and their weights files."""
    folder = tmp_path_factory.mktemp("weights")
    rgb, flow, _ = make_streams(SETTINGS)
    paths = {"rgb": folder / "rgb.weights.h5", "flow": folder / "flow.weights.h5"}
    rgb.save_weights(paths["rgb"])
    flow.save_weights(paths["flow"])
    return rgb, flow, paths


@pytest.fixture()
def videos(tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    write_synthetic_video(folder / "match.avi", num_frames=40, size=(96, 72), cuts=(22,))
    write_synthetic_video(folder / "race.mp4", num_frames=30, fps=20.0, size=(96, 72), seed=4)
    (folder / "broken.mp4").write_bytes(b"\x00\x01" * 1000)
    return folder


def _weights_flags(paths):
    return ["--weights", str(paths["rgb"]), "--flow-weights", str(paths["flow"])]


def test_extract_writes_the_features_of_the_loaded_backbones(streams, videos, tmp_path, capsys):
    rgb, flow, paths = streams
    dataset = tmp_path / "dataset"
    status = main(["extract", str(videos), str(dataset), *FLAGS, *_weights_flags(paths)])
    out, err = capsys.readouterr()
    assert status == 1
    assert "extracted 2, skipped 0 (already done), failed 1" in out
    assert "failed: broken: VideoError: cannot open video" in err
    assert "[####################] 3/3 videos  race: extracted" in err
    # 1.6 s and 1.5 s resampled to 10 fps: 16 and 15 frames, ceil(N / 4) = 4 snippets each.
    for video, file_name in (("match", "match.avi"), ("race", "race.mp4")):
        expected = extract_video_features(videos / file_name, rgb, flow, SETTINGS)
        for stream in ("rgb", "flow"):
            written = np.load(dataset / "features" / stream / f"{video}.npy")
            assert written.shape == (4, 576) and written.dtype == np.float32
            np.testing.assert_allclose(written, getattr(expected, stream), rtol=1e-5, atol=1e-6)
    meta = json.loads((dataset / "meta.json").read_text())
    assert meta["feature_fps"] == 2.5 and meta["feature_dim"] == {"rgb": 576, "flow": 576}
    assert meta["extraction"]["rgb_weights"].endswith("/rgb.weights.h5")
    failures = json.loads((dataset / "extraction" / "failures.json").read_text())["failures"]
    assert list(failures) == ["broken"]

    (videos / "broken.mp4").unlink()
    status = main(["extract", str(videos), str(dataset), *FLAGS, *_weights_flags(paths), "--quiet"])
    out, err = capsys.readouterr()
    assert status == 0 and "extracted 0, skipped 2 (already done), failed 0" in out
    assert err == ""


def test_extract_one_shard(streams, videos, tmp_path, capsys):
    _, _, paths = streams
    dataset = tmp_path / "dataset"
    status = main(
        [
            "extract",
            str(videos),
            str(dataset),
            *FLAGS,
            *_weights_flags(paths),
            "--shard",
            "1/2",
            "--quiet",
        ]
    )
    assert status == 0  # sorted names broken, match, race: shard 1 of 2 is ["match"]
    assert sorted(p.name for p in (dataset / "features" / "rgb").iterdir()) == ["match.npy"]
    assert "extracted 1, skipped 0" in capsys.readouterr().out


def test_bad_input_is_one_line(streams, videos, tmp_path, capsys):
    _, _, paths = streams
    dataset = str(tmp_path / "dataset")
    assert main(["extract", str(tmp_path / "absent"), dataset, *FLAGS]) == 2
    assert "keras-wsal extract: error: videos folder" in capsys.readouterr().err
    assert main(["extract", str(videos), dataset, *FLAGS, "--crop", "100"]) == 2
    assert "crop must be in [1, 64]" in capsys.readouterr().err
    swapped = ["--weights", str(paths["flow"]), "--flow-weights", str(paths["rgb"])]
    assert main(["extract", str(videos), dataset, *FLAGS, *swapped]) == 2
    assert "does not fit layer" in capsys.readouterr().err
    for flag in (["--shard", "2/2"], ["--frame-size", "80"]):
        with pytest.raises(SystemExit):
            main(["extract", str(videos), dataset, *flag])


def test_ffmpeg_log_lines_do_not_leak(tmp_path):
    """A video FFmpeg cannot parse is one failure line, without FFmpeg's own "[mov,mp4 @ …]"."""
    import subprocess
    import sys

    videos = tmp_path / "videos"
    videos.mkdir()
    write_synthetic_video(videos / "good.avi", num_frames=20, size=(48, 40))
    (videos / "broken.mp4").write_bytes(b"not a video " * 20)
    done = subprocess.run(
        [sys.executable, "-m", "keras_wsal.cli", "extract", str(videos), str(tmp_path / "ds"),
         "--backbone", "mobilenet_v3_small", "--crop", "32", "--frame-size", "40x32", "--quiet"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1  # one video failed
    lines = done.stderr.strip().splitlines()
    assert lines == [line for line in lines if line.startswith("keras-wsal extract: ")], lines
    assert any("broken" in line for line in lines)


def test_the_paper_recipe_extracts_tvl1_at_one_snippet_every_15_frames(streams, tmp_path, capsys):
    _, _, paths = streams
    videos = tmp_path / "videos"
    videos.mkdir()
    write_synthetic_video(videos / "clip.avi", num_frames=30, fps=30.0, size=(96, 72), seed=2)
    dataset = tmp_path / "dataset"
    small = ["--backbone", "mobilenet_v3_small", "--frame-size", "80x64", "--crop", "64"]
    status = main(["extract", str(videos), str(dataset), *small, *_weights_flags(paths),
                   "--recipe", "paper", "--quiet"])  # fmt: skip
    assert status == 0
    meta = json.loads((dataset / "meta.json").read_text())
    # UntrimmedNet: TV-L1 flow, THUMOS14's 30 fps, a snippet every 15 frames: 2 per second.
    assert meta["feature_fps"] == 2.0
    assert meta["extraction"]["flow"] == "tvl1"
    assert np.load(dataset / "features" / "rgb" / "clip.npy").shape == (2, 576)
    capsys.readouterr()
    again = tmp_path / "dataset2"
    status = main(["extract", str(videos), str(again), *small, *_weights_flags(paths),
                   "--recipe", "paper", "--flow", "dis"])  # fmt: skip
    assert status == 0
    assert "--flow dis overrides the paper recipe's tvl1" in capsys.readouterr().out
    assert json.loads((again / "meta.json").read_text())["extraction"]["flow"] == "dis"
