"""Dense optical flow between consecutive frames, its storage as uint8 images, and flow stacks.

Methods (both on grayscale frames, OpenCV from `opencv-contrib-python-headless`):
- `"tvl1"`: TV-L1 (Zach et al. 2007), `cv2.optflow.DualTVL1OpticalFlow_create()` with OpenCV's
  default parameters, as in the TSN/UntrimmedNet feature extraction (denseflow). About 1-3 s per
  320x240 frame pair on one CPU core.
- `"dis"` (the default): Dense Inverse Search (Kroeger et al. 2016),
  `cv2.DISOpticalFlow_create(preset)` with the `"medium"` preset by default (about 9 ms per
  320x240 pair here, sub-pixel accurate on textured translations); `"fast"` (about 2 ms) and
  `"ultrafast"` (about 1 ms) trade accuracy for speed.

Storage (TSN / denseflow): each flow component is clipped to `[-bound, bound]` (bound 20 px)
and mapped linearly to `q = round(255 (v + bound) / (2 bound))` in `[0, 255]`; `dequantize_flow`
maps back, `v = q (2 bound) / 255 - bound`, with an error of at most `bound / 255` on unclipped
values (half a quantisation step).

The temporal stream's input is a stack of `L = 5` consecutive flows centred on the snippet's frame,
10 channels ordered `(x_1, y_1, ..., x_5, y_5)` (`flow_stack_indices`, `flow_stack`).
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import cv2
import numpy as np

FLOW_METHODS = ("dis", "tvl1")
DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
DEFAULT_BOUND = 20.0
STACK_LENGTH = 5


def _check_method(method: str, dis_preset: str) -> None:
    if method not in FLOW_METHODS:
        raise ValueError(f"method must be one of {FLOW_METHODS}, got {method!r}")
    if dis_preset not in DIS_PRESETS:
        raise ValueError(f"dis_preset must be one of {sorted(DIS_PRESETS)}, got {dis_preset!r}")


def create_flow_estimator(method: str = "dis", *, dis_preset: str = "medium"):
    """A new OpenCV optical flow object (`.calc(prev, next, None) -> [H, W, 2]`).

    One object must not be shared between threads; `video_flows` makes one per worker.
    """
    _check_method(method, dis_preset)
    if method == "dis":
        return cv2.DISOpticalFlow_create(DIS_PRESETS[dis_preset])
    return cv2.optflow.DualTVL1OpticalFlow_create()


def to_gray(image: np.ndarray) -> np.ndarray:
    """A contiguous uint8 grayscale `[H, W]` copy of an RGB `[H, W, 3]` or gray `[H, W]` image."""
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)
    if image.dtype != np.uint8 or image.ndim != 2:
        raise ValueError(
            f"expected a uint8 image [H, W] or [H, W, 3], got {image.dtype} {image.shape}"
        )
    return np.ascontiguousarray(image)


def compute_flow(
    previous: np.ndarray,
    following: np.ndarray,
    *,
    method: str = "dis",
    dis_preset: str = "medium",
    estimator=None,
) -> np.ndarray:
    """The dense flow from `previous` to `following`: float32 `[H, W, 2]` (x, y) in pixels.

    `following(p + flow(p)) ≈ previous(p)`: content at pixel `p` moves by `flow(p)`. Inputs are
    uint8 RGB `[H, W, 3]` or gray `[H, W]` frames of the same size. `estimator` (from
    `create_flow_estimator`) reuses an OpenCV object instead of creating one.
    """
    a, b = to_gray(previous), to_gray(following)
    if a.shape != b.shape:
        raise ValueError(f"frames differ in size: {a.shape} and {b.shape}")
    if estimator is None:
        estimator = create_flow_estimator(method, dis_preset=dis_preset)
    return estimator.calc(a, b, None).astype(np.float32, copy=False)


def quantize_flow(flow: np.ndarray, bound: float = DEFAULT_BOUND) -> np.ndarray:
    """Clip to `[-bound, bound]` and map to uint8: `q = round(255 (v + bound) / (2 bound))`."""
    if not bound > 0:
        raise ValueError(f"bound must be > 0, got {bound}")
    scaled = (np.clip(flow, -bound, bound) + bound) * (255.0 / (2.0 * bound))
    return np.rint(scaled).astype(np.uint8)


def dequantize_flow(quantized: np.ndarray, bound: float = DEFAULT_BOUND) -> np.ndarray:
    """Invert `quantize_flow`: `v = q (2 bound) / 255 - bound`, float32."""
    if not bound > 0:
        raise ValueError(f"bound must be > 0, got {bound}")
    return quantized.astype(np.float32) * np.float32(2.0 * bound / 255.0) - np.float32(bound)


class FlowPool:
    """Compute the flows of frame pairs on a pool of threads, one OpenCV estimator per thread.

    OpenCV releases the GIL, so the threads run in parallel. With `workers > 1`, OpenCV's own
    thread pool is set to 1 thread while the pool is open (one level of parallelism, no
    oversubscription) and restored when it closes; this setting is process-wide.

    Example:
    >>> with FlowPool("dis", workers=4) as pool:
    ...     futures = [pool.submit(a, b) for a, b in pairs]
    ...     flows = [future.result() for future in futures]

    Args:
        method: `"dis"` or `"tvl1"`; see the module docstring.
        dis_preset: DIS preset, `"medium"`, `"fast"` or `"ultrafast"`.
        bound: quantise each flow to uint8 with this bound (`quantize_flow`); `None` gives
            float32 flows.
        workers: threads (default: the number of CPUs).
    """

    def __init__(
        self,
        method: str = "dis",
        *,
        dis_preset: str = "medium",
        bound: float | None = DEFAULT_BOUND,
        workers: int | None = None,
    ):
        _check_method(method, dis_preset)
        if bound is not None and not bound > 0:
            raise ValueError(f"bound must be > 0 or None, got {bound}")
        self.method = method
        self.dis_preset = dis_preset
        self.bound = bound
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._local = threading.local()
        self._executor = None
        self._opencv_threads = None

    def __enter__(self) -> FlowPool:
        if self.workers > 1:
            self._opencv_threads = cv2.getNumThreads()
            cv2.setNumThreads(1)
        self._executor = ThreadPoolExecutor(max_workers=self.workers)
        return self

    def __exit__(self, *exc_info) -> None:
        self._executor.shutdown(wait=True)
        self._executor = None
        if self._opencv_threads is not None:
            cv2.setNumThreads(self._opencv_threads)
            self._opencv_threads = None

    def _one_pair(self, previous: np.ndarray, following: np.ndarray) -> np.ndarray:
        if not hasattr(self._local, "estimator"):
            self._local.estimator = create_flow_estimator(self.method, dis_preset=self.dis_preset)
        flow = compute_flow(previous, following, estimator=self._local.estimator)
        return flow if self.bound is None else quantize_flow(flow, self.bound)

    def submit(self, previous: np.ndarray, following: np.ndarray) -> Future:
        """Schedule the flow from `previous` to `following` (gray or RGB uint8 frames)."""
        if self._executor is None:
            raise RuntimeError("FlowPool.submit needs an open pool: use `with FlowPool(...)`")
        return self._executor.submit(self._one_pair, to_gray(previous), to_gray(following))


def video_flows(
    frames: Iterable[np.ndarray],
    *,
    method: str = "dis",
    dis_preset: str = "medium",
    bound: float | None = DEFAULT_BOUND,
    workers: int | None = None,
) -> Iterator[np.ndarray]:
    """The flows between consecutive frames of a stream, computed in parallel, in order.

    Frame pairs `(i, i + 1)` go to a `FlowPool` of `workers` threads; at most `2 × workers`
    pairs are in flight, so memory stays bounded for any video length.

    Args:
        frames: uint8 RGB `[H, W, 3]` or gray `[H, W]` frames, all of one size.
        method, dis_preset, bound, workers: see `FlowPool`.

    Yields:
        `T - 1` flows `[H, W, 2]` for `T` frames (none for fewer than 2 frames).
    """
    with FlowPool(method, dis_preset=dis_preset, bound=bound, workers=workers) as pool:
        pending: deque = deque()
        previous = None
        for frame in frames:
            gray = to_gray(frame)
            if previous is not None:
                pending.append(pool.submit(previous, gray))
                if len(pending) >= 2 * pool.workers:
                    yield pending.popleft().result()
            previous = gray
        while pending:
            yield pending.popleft().result()


def flow_stack_indices(centres, num_flows: int, length: int = STACK_LENGTH) -> np.ndarray:
    """The flows that make the stack of each snippet centred on frame `c`: `c - L//2 .. c + L//2`.

    Flow `j` goes from frame `j` to frame `j + 1`, so the stack of frame `c` holds

        j_i = clip(c - floor(L / 2) + i, 0, num_flows - 1),   i = 0 .. L - 1,

    the convention of TSN's temporal stream (flows around the snippet's frame), clamped at both
    ends of the video, so a stack exists for every frame of a video of at least 2 frames. Feature
    extraction, end-to-end training and `flow_stack` all use it.

    Args:
        centres: int array of any shape, the centre frame of each stack.
        num_flows: the number of flows of the video (its number of frames minus 1), ≥ 1.
        length: `L`, the number of flows in a stack (TSN: 5).

    Returns:
        int64 `[*centres.shape, L]`.
    """
    if num_flows < 1:
        raise ValueError("flows is empty: a flow stack needs a video of at least 2 frames")
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    first = np.asarray(centres, dtype=np.int64)[..., None] - length // 2
    return np.clip(first + np.arange(length), 0, num_flows - 1)


def flow_stack(flows: Sequence[np.ndarray], centre: int, length: int = STACK_LENGTH) -> np.ndarray:
    """The stack of `length` flows centred on frame `centre`, `[H, W, 2 × length]`.

    The flows are `flow_stack_indices(centre, len(flows), length)`: `centre - L//2 ..
    centre + L//2`, clamped to the video. Channels are `(x_1, y_1, ..., x_L, y_L)` as in TSN's
    temporal stream.

    Args:
        flows: a sequence (list or array `[N, H, W, 2]`) of flows, uint8 or float.
        centre: the snippet's frame, in `[0, len(flows)]` (a video of N + 1 frames).
        length: number of flows `L` (TSN: 5).
    """
    if len(flows) == 0:
        raise ValueError("flows is empty: a flow stack needs a video of at least 2 frames")
    if not 0 <= centre <= len(flows):
        raise ValueError(f"centre must be a frame in [0, {len(flows)}], got {centre}")
    indices = flow_stack_indices(centre, len(flows), length)
    return np.concatenate([flows[int(j)] for j in indices], axis=-1)
