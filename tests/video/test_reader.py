"""VideoReader on videos the tests write: frame counts, timestamps, sampling, resizing, errors."""

import math

import av
import numpy as np
import pytest

from keras_wsal.errors import VideoError
from keras_wsal.video import frames_dataset, open_video, synthetic_frame, write_synthetic_video
from keras_wsal.video import reader as reader_module
from keras_wsal.video.backends import CannotOpen

NUM_FRAMES = 100
FPS = 25.0
SIZE = (160, 120)
CUTS = (30, 70)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    return {
        suffix: write_synthetic_video(
            folder / f"clip{suffix}", num_frames=NUM_FRAMES, fps=FPS, size=SIZE, cuts=CUTS
        )
        for suffix in (".avi", ".mp4")
    }


@pytest.mark.parametrize("backend", ["pyav", "opencv"])
@pytest.mark.parametrize("suffix", [".avi", ".mp4"])
def test_metadata_count_and_timestamps(videos, suffix, backend):
    reader = open_video(videos[suffix], backend=backend)
    assert reader.backend == backend
    assert reader.fps == FPS
    assert (reader.width, reader.height) == SIZE
    assert reader.frame_count == NUM_FRAMES
    assert reader.duration == pytest.approx(NUM_FRAMES / FPS)
    frames = list(reader.frames())
    assert [f.index for f in frames] == list(range(NUM_FRAMES))
    np.testing.assert_allclose([f.time for f in frames], np.arange(NUM_FRAMES) / FPS, atol=1e-9)
    image = frames[50].image
    assert image.dtype == np.uint8 and image.shape == (SIZE[1], SIZE[0], 3)
    # RGB, not BGR: the decoded frame is close to what was written, far from its channel swap.
    written = synthetic_frame(50, cuts=CUTS, size=SIZE).astype(int)
    error = np.abs(image.astype(int) - written).mean()
    swapped_error = np.abs(image.astype(int) - written[..., ::-1]).mean()
    assert error < 6 and swapped_error > 3 * error


def test_backends_decode_the_same_frames(videos):
    pyav = [f.image.astype(int) for f in open_video(videos[".avi"], backend="pyav").frames()]
    opencv = [f.image.astype(int) for f in open_video(videos[".avi"], backend="opencv").frames()]
    assert len(pyav) == len(opencv)
    assert max(np.abs(a - b).mean() for a, b in zip(pyav, opencv, strict=True)) < 2.0


def test_fps_sampling_picks_the_nearest_frames(videos):
    frames = list(open_video(videos[".mp4"]).frames(fps=2.0))
    # Target k/2 s; the first frame with i/25 >= k/2 - 0.02 s: i = ceil(12.5 k - 0.5).
    expected = [math.ceil(12.5 * k - 0.5) for k in range(8)]
    assert expected == [0, 12, 25, 37, 50, 62, 75, 87]
    assert [f.index for f in frames] == expected
    np.testing.assert_allclose([f.time for f in frames], np.array(expected) / FPS)


def test_fps_above_the_video_rate_repeats_frames(tmp_path):
    path = write_synthetic_video(tmp_path / "slow.avi", num_frames=5, fps=10.0, size=(32, 24))
    frames = list(open_video(path).frames(fps=20.0))
    # Targets 0, .05, ..., .45 s; frame i (at i/10 s) serves targets up to i/10 + 0.05.
    assert [f.index for f in frames] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


def test_stride_start_end(videos):
    reader = open_video(videos[".avi"])
    assert [f.index for f in reader.frames(stride=30)] == [0, 30, 60, 90]
    window = list(reader.frames(start=1.0, end=2.0))
    assert [f.index for f in window] == list(range(25, 50))
    strided = list(reader.frames(stride=7, start=1.0))
    assert [f.index for f in strided] == list(range(28, NUM_FRAMES, 7))
    full = {f.index: f.image for f in reader.frames()}
    np.testing.assert_array_equal(strided[0].image, full[28])
    assert [f.index for f in reader.frames(fps=2.0, start=1.0, end=2.6)] == [25, 37, 50, 62]


def test_resize_shorter_side_and_fixed_size(videos):
    reader = open_video(videos[".avi"])
    shorter = next(iter(reader.frames(size=64)))
    assert shorter.image.shape == (64, round(160 * 64 / 120), 3)
    fixed = next(iter(reader.frames(size=(34, 26))))
    assert fixed.image.shape == (26, 34, 3)


@pytest.mark.parametrize("backend", ["pyav", "opencv"])
def test_frames_are_streamed(videos, backend):
    """Each frame is yielded as soon as it is decoded: the video is never decoded ahead."""
    reader = open_video(videos[".avi"], backend=backend)
    decode = reader._source.decode
    decoded = []

    def counting_decode(start):
        for item in decode(start):
            decoded.append(item.index)
            yield item

    reader._source.decode = counting_decode
    frames = reader.frames()
    first = next(frames)
    assert first.index == 0 and len(decoded) <= 2
    np.testing.assert_array_equal(first.image.shape, (SIZE[1], SIZE[0], 3))
    seen = [first.index]
    for frame in frames:
        assert len(decoded) <= frame.index + 2  # at most one frame decoded ahead
        seen.append(frame.index)
    assert seen == list(range(NUM_FRAMES)) and len(decoded) == NUM_FRAMES


def test_frames_dataset_interleaves_videos(videos):
    dataset = frames_dataset(list(videos.values()), fps=5.0, size=(32, 24), cycle_length=2)
    assert tuple(dataset.element_spec["image"].shape) == (24, 32, 3)
    items = list(dataset.as_numpy_iterator())
    for path in videos.values():
        times = [item["time"] for item in items if item["path"].decode() == str(path)]
        np.testing.assert_allclose(times, np.arange(20) / 5.0)
    assert items[0]["path"] != items[1]["path"]


def test_fallback_to_opencv_when_pyav_cannot_open(videos, monkeypatch):
    def cannot_open(path):
        raise CannotOpen(f"cannot open video {path}: simulated")

    monkeypatch.setattr(reader_module, "PyAVSource", cannot_open)
    reader = open_video(videos[".avi"])
    assert reader.backend == "opencv"
    assert len(list(reader.frames(stride=10))) == 10
    with pytest.raises(VideoError, match="simulated"):
        open_video(videos[".avi"], backend="pyav")


def _zero_rate_mkv(source, target):
    """Remux `source` into Matroska with every timestamp 0: no average frame rate."""
    with av.open(str(source)) as src, av.open(str(target), "w") as out:
        stream = out.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.size:
                packet.pts = packet.dts = 0
                packet.stream = stream
                out.mux(packet)
    return target


def test_bad_videos_raise_video_error_naming_the_file(videos, tmp_path):
    data = videos[".mp4"].read_bytes()
    cases = {
        "missing.mp4": None,
        "empty_file.mp4": b"",
        "garbage.mp4": bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),
        "truncated.mp4": data[: len(data) // 2],
    }
    for name, content in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(VideoError, match=name):
            open_video(path)
    with pytest.raises(VideoError, match="is not a file"):
        open_video(tmp_path)

    no_frames = write_synthetic_video(tmp_path / "no_frames.avi", num_frames=0)
    with pytest.raises(VideoError, match="no_frames.avi has no frames"):
        list(open_video(no_frames).frames())

    zero_rate = _zero_rate_mkv(videos[".avi"], tmp_path / "zero_rate.mkv")
    with pytest.raises(VideoError, match="zero_rate.mkv has no usable frame rate"):
        open_video(zero_rate)


def test_truncated_avi_raises_after_its_decodable_frames(videos, tmp_path):
    data = videos[".avi"].read_bytes()
    path = tmp_path / "cut.avi"
    path.write_bytes(data[: len(data) // 2])
    reader = open_video(path)
    decoded = []
    with pytest.raises(
        VideoError, match=r"cut.avi is truncated or corrupt: .* declares 100 frames"
    ):
        for frame in reader.frames():
            decoded.append(frame.index)
    assert 0 < len(decoded) < NUM_FRAMES


def test_window_without_frames_and_bad_arguments(videos):
    reader = open_video(videos[".avi"])
    with pytest.raises(VideoError, match=r"no frames in \[10.0, None\)"):
        list(reader.frames(start=10.0))
    with pytest.raises(ValueError, match="at most one of fps and stride"):
        reader.frames(fps=1.0, stride=2)
    with pytest.raises(ValueError, match="stride"):
        reader.frames(stride=0)
    with pytest.raises(ValueError, match="backend"):
        open_video(videos[".avi"], backend="ffmpeg")
