"""Optical flow: known translations recovered, uint8 round trip, flow stacks, parallelism."""

import cv2
import numpy as np
import pytest

from keras_wsal.video import (
    compute_flow,
    dequantize_flow,
    flow_stack,
    flow_stack_indices,
    open_video,
    quantize_flow,
    video_flows,
    write_synthetic_video,
)


def _translated_pair(dx: int, dy: int, size=(96, 72), seed=0):
    """A smooth random texture and the same texture moved by (dx, dy) pixels."""
    width, height = size
    noise = np.random.default_rng(seed).random((height + 40, width + 40))
    texture = cv2.normalize(cv2.GaussianBlur(noise, (0, 0), 2.0), None, 0, 255, cv2.NORM_MINMAX)
    texture = texture.astype(np.uint8)
    previous = texture[20 : 20 + height, 20 : 20 + width]
    following = texture[20 - dy : 20 - dy + height, 20 - dx : 20 - dx + width]
    return np.ascontiguousarray(previous), np.ascontiguousarray(following)


@pytest.mark.parametrize("method", ["dis", "tvl1"])
def test_known_translation_is_recovered(method):
    dx, dy = 3, -2
    previous, following = _translated_pair(dx, dy)
    # following(p + d) == previous(p) for the moved texture.
    np.testing.assert_array_equal(following[10 + dy, 10 + dx], previous[10, 10])
    flow = compute_flow(previous, following, method=method)
    assert flow.shape == previous.shape + (2,) and flow.dtype == np.float32
    mean = flow[12:-12, 12:-12].reshape(-1, 2).mean(axis=0)
    np.testing.assert_allclose(mean, [dx, dy], atol=0.5)


def test_rgb_frames_give_the_flow_of_their_gray_version():
    previous, following = _translated_pair(2, 1)
    rgb = [np.repeat(image[..., None], 3, axis=2) for image in (previous, following)]
    np.testing.assert_allclose(compute_flow(*rgb), compute_flow(previous, following), atol=1e-5)


def test_quantize_round_trip_and_clipping():
    bound = 20.0
    flow = np.random.default_rng(1).uniform(-bound, bound, (50, 40, 2)).astype(np.float32)
    quantized = quantize_flow(flow, bound)
    assert quantized.dtype == np.uint8
    restored = dequantize_flow(quantized, bound)
    # Half a quantisation step, bound / 255, which is within the usual bound / 127.5.
    assert np.abs(restored - flow).max() <= bound / 255 + 1e-5
    edges = quantize_flow(np.array([-100.0, -bound, 0.0, bound, 100.0]), bound)
    # 255 (v + 20) / 40: 0, 0, round(127.5) = 128 (round half to even), 255, 255.
    np.testing.assert_array_equal(edges, [0, 0, 128, 255, 255])
    with pytest.raises(ValueError, match="bound"):
        quantize_flow(flow, 0.0)


def test_video_flows_parallel_equals_serial(tmp_path):
    path = write_synthetic_video(tmp_path / "v.avi", num_frames=12, size=(64, 48), cuts=(6,))
    frames = [f.image for f in open_video(path).frames()]
    threads_before = cv2.getNumThreads()
    serial = list(video_flows(frames, workers=1))
    parallel = list(video_flows(iter(frames), workers=2))
    assert cv2.getNumThreads() == threads_before
    assert len(serial) == len(parallel) == 11
    assert serial[0].shape == (48, 64, 2) and serial[0].dtype == np.uint8
    for a, b in zip(serial, parallel, strict=True):
        np.testing.assert_array_equal(a, b)
    raw = next(video_flows(frames[:2], bound=None, workers=1))
    np.testing.assert_array_equal(quantize_flow(raw), serial[0])
    assert list(video_flows(frames[:1])) == []
    with pytest.raises(ValueError, match="method"):
        list(video_flows(frames, method="farneback"))


def test_flow_stack_is_centred_with_channel_order_and_clamping():
    # Flow i holds x = 10 i and y = 10 i + 1 everywhere.
    flows = [np.stack([np.full((4, 5), 10 * i), np.full((4, 5), 10 * i + 1)], -1) for i in range(7)]
    stack = flow_stack(flows, 3)  # flows 1..5 around frame 3
    assert stack.shape == (4, 5, 10)
    np.testing.assert_array_equal(stack[0, 0], [10, 11, 20, 21, 30, 31, 40, 41, 50, 51])
    at_start = flow_stack(flows, 0)  # flows -2..2 clamped to 0
    np.testing.assert_array_equal(at_start[0, 0], [0, 1, 0, 1, 0, 1, 10, 11, 20, 21])
    at_end = flow_stack(np.stack(flows), 7)  # the last frame: flows 5..9 clamped to 6
    np.testing.assert_array_equal(at_end[0, 0], [50, 51, 60, 61, 60, 61, 60, 61, 60, 61])
    assert flow_stack(flows[:1], 0).shape == (4, 5, 10)
    with pytest.raises(ValueError, match="empty"):
        flow_stack([], 0)
    with pytest.raises(ValueError, match="centre"):
        flow_stack(flows, 8)


def test_flow_stack_indices_match_the_hand_computed_convention():
    centres = np.array([[0, 1], [5, 9]])
    expected = [
        [[0, 0, 0, 1, 2], [0, 0, 1, 2, 3]],
        [[3, 4, 5, 6, 7], [7, 7, 7, 7, 7]],
    ]
    np.testing.assert_array_equal(flow_stack_indices(centres, 8), expected)
    np.testing.assert_array_equal(flow_stack_indices(4, 10, length=3), [3, 4, 5])
    with pytest.raises(ValueError, match="empty"):
        flow_stack_indices(0, 0)
