"""Snippet sampling of the feature extraction against a direct (all frames in memory) reference,
and the dataset it writes: resuming, failures, annotations, shards."""

import json
import math

import numpy as np
import pytest

from keras_wsal.backbones import preprocess_input
from keras_wsal.datasets import FeatureDataset, write_annotations
from keras_wsal.errors import DataError, VideoError
from keras_wsal.extraction import ExtractionSettings, extract_dataset, extract_video_features
from keras_wsal.video import (
    compute_flow,
    find_videos,
    open_video,
    quantize_flow,
    shard_videos,
    write_synthetic_video,
)

FRAME_SIZE = (32, 24)
CROP = 16


class _Flatten:
    """A stand-in backbone whose features are its (preprocessed) inputs, flattened."""

    def __init__(self, channels):
        self.output_shape = (None, CROP * CROP * channels)
        self.batches = []

    def __call__(self, batch, training=False):
        self.batches.append(len(batch))
        return batch.reshape(len(batch), -1)


def _reference_inputs(path, settings):
    """The documented snippet inputs, from all frames and all flows in memory."""
    frames = [f.image for f in open_video(path).frames(fps=settings.frame_rate, size=FRAME_SIZE)]
    flows = [
        quantize_flow(compute_flow(a, b, method=settings.flow))
        for a, b in zip(frames[:-1], frames[1:], strict=True)
    ]
    count, size = len(frames), settings.snippet_frames
    top, left = (FRAME_SIZE[1] - CROP) // 2, (FRAME_SIZE[0] - CROP) // 2
    rgb, flow = [], []
    for t in range(math.ceil(count / size)):
        centre = t * size + size // 2
        indices = [min(max(j, 0), count - 2) for j in range(centre - 2, centre + 3)]
        rgb.append(frames[min(centre, count - 1)][top : top + CROP, left : left + CROP])
        stack = np.concatenate([flows[j] for j in indices], axis=-1)
        flow.append(stack[top : top + CROP, left : left + CROP])
    return count, np.stack(rgb), np.stack(flow)


@pytest.mark.parametrize("snippet_frames", [2, 4, 7])
def test_streamed_snippets_equal_the_direct_reference(tmp_path, snippet_frames):
    path = write_synthetic_video(tmp_path / "v.avi", num_frames=50, size=(64, 48), cuts=(21,))
    settings = ExtractionSettings(
        frame_rate=10.0,
        snippet_frames=snippet_frames,
        frame_size=FRAME_SIZE,
        crop=CROP,
        batch_size=3,
    )
    rgb_model, flow_model = _Flatten(3), _Flatten(10)
    features = extract_video_features(path, rgb_model, flow_model, settings)
    count, rgb, flow = _reference_inputs(path, settings)
    assert count == features.num_frames == 20  # 2 s resampled to 10 fps
    assert features.duration == pytest.approx(2.0) and features.fps == 25.0
    expected_snippets = math.ceil(20 / snippet_frames)
    assert features.rgb.shape == (expected_snippets, CROP * CROP * 3)
    assert features.flow.shape == (expected_snippets, CROP * CROP * 10)
    np.testing.assert_array_equal(
        features.rgb, preprocess_input(rgb, "bn_inception", "rgb").reshape(expected_snippets, -1)
    )
    np.testing.assert_array_equal(
        features.flow, preprocess_input(flow, "bn_inception", "flow").reshape(expected_snippets, -1)
    )
    assert max(rgb_model.batches) <= 3


def test_too_short_videos_and_bad_settings(tmp_path):
    settings = ExtractionSettings(
        frame_rate=25.0, snippet_frames=4, frame_size=FRAME_SIZE, crop=CROP
    )
    exact = write_synthetic_video(tmp_path / "four.avi", num_frames=4, size=(64, 48))
    assert extract_video_features(exact, _Flatten(3), _Flatten(10), settings).rgb.shape[0] == 1
    short = write_synthetic_video(tmp_path / "three.avi", num_frames=3, size=(64, 48))
    with pytest.raises(
        VideoError, match=r"three.avi has 3 frames at 25 fps: shorter than one snippet"
    ):
        extract_video_features(short, _Flatten(3), _Flatten(10), settings)
    with pytest.raises(ValueError, match="crop"):
        ExtractionSettings(frame_size=(32, 24), crop=30)
    with pytest.raises(ValueError, match="snippet_frames"):
        ExtractionSettings(snippet_frames=1)


def test_find_and_shard_videos(tmp_path):
    for name in ("b.mp4", "a.AVI", ".hidden.mp4", "notes.txt", "c.mkv"):
        (tmp_path / name).write_bytes(b"")
    assert list(find_videos(tmp_path)) == ["a", "b", "c"]
    names = [f"v{i:02d}" for i in range(7)]
    shards = [shard_videos(names[::-1], (i, 3)) for i in range(3)]
    assert shards[0] == ["v00", "v03", "v06"]
    assert sorted(sum(shards, [])) == names
    (tmp_path / "a.mp4").write_bytes(b"")
    with pytest.raises(VideoError, match="two videos are named 'a'"):
        find_videos(tmp_path)
    with pytest.raises(VideoError, match="does not exist"):
        find_videos(tmp_path / "absent")
    with pytest.raises(ValueError, match="shard"):
        shard_videos(names, (3, 3))


def test_dataset_resume_failures_and_annotations(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    write_synthetic_video(videos / "good.avi", num_frames=30, size=(64, 48))
    write_synthetic_video(videos / "other.mp4", num_frames=20, fps=20.0, size=(64, 48))
    write_synthetic_video(videos / "short.avi", num_frames=2, size=(64, 48))
    (videos / "corrupt.mp4").write_bytes(b"\x00" * 2000)
    dataset = tmp_path / "dataset"
    # A video the user already annotated keeps its labels; the others are added to "validation".
    write_annotations(
        dataset,
        {
            "good": {
                "subset": "train",
                "duration": 1.2,
                "annotations": [{"segment": [0.1, 0.5], "label": "Jump"}],
            }
        },
    )
    settings = ExtractionSettings(
        frame_rate=10.0, snippet_frames=4, frame_size=FRAME_SIZE, crop=CROP
    )
    seen = []
    report = extract_dataset(
        videos,
        dataset,
        _Flatten(3),
        _Flatten(10),
        settings,
        subset="validation",
        on_video=lambda video, status: seen.append((video, status)),
    )
    assert seen == [
        ("corrupt", "failed"),
        ("good", "extracted"),
        ("other", "extracted"),
        ("short", "failed"),
    ]
    assert (
        "corrupt.mp4" in report.failures["corrupt"]
        and "shorter than one snippet" in report.failures["short"]
    )
    assert report.summary().startswith("extracted 2, skipped 0 (already done), failed 2")
    saved_report = json.loads(report.report_path.read_text())
    assert saved_report["failures"] == report.failures and saved_report["extracted"] == [
        "good",
        "other",
    ]
    assert not (dataset / "features" / "rgb" / "short.npy").exists()

    data = FeatureDataset(dataset)
    assert data.feature_fps == 2.5 and data.feature_dims == {"rgb": 768, "flow": 2560}
    annotations = json.loads((dataset / "annotations.json").read_text())["database"]
    assert annotations["good"]["subset"] == "train" and annotations["good"]["annotations"]
    assert annotations["other"] == {"subset": "validation", "duration": 1.0, "annotations": []}
    rgb = np.load(dataset / "features" / "rgb" / "good.npy")
    assert rgb.shape == (math.ceil(12 / 4), 768) and rgb.dtype == np.float32  # 1.2 s at 10 fps

    mtime = (dataset / "features" / "rgb" / "good.npy").stat().st_mtime_ns
    again = extract_dataset(videos, dataset, _Flatten(3), _Flatten(10), settings)
    assert again.extracted == [] and again.skipped == ["good", "other"]
    assert sorted(again.failures) == ["corrupt", "short"]
    assert (dataset / "features" / "rgb" / "good.npy").stat().st_mtime_ns == mtime

    other = ExtractionSettings(frame_rate=10.0, snippet_frames=5, frame_size=FRAME_SIZE, crop=CROP)
    with pytest.raises(DataError, match="describes other features"):
        extract_dataset(videos, dataset, _Flatten(3), _Flatten(10), other)


def test_shards_write_one_complete_annotation_file(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    for index in range(3):
        write_synthetic_video(videos / f"v{index}.avi", num_frames=10, size=(64, 48), seed=index)
    settings = ExtractionSettings(
        frame_rate=25.0, snippet_frames=5, frame_size=FRAME_SIZE, crop=CROP
    )
    dataset = tmp_path / "dataset"
    reports = [
        extract_dataset(videos, dataset, _Flatten(3), _Flatten(10), settings, shard=(i, 2))
        for i in range(2)
    ]
    assert [r.extracted for r in reports] == [["v0", "v2"], ["v1"]]
    assert reports[1].report_path.name == "failures.shard-1-of-2.json"
    assert FeatureDataset(dataset).videos() == ["v0", "v1", "v2"]
