"""The Python side of the training and inference pipelines: what a batch of elements reads.

`ElementReader` reads videos' rows from their (memory-mapped) feature files, a batch per call: a
crop of each video's snippets or WSGN's resampled frames (`TemporalAugmentation`), padded into one
array, or UntrimmedNet's clip features (`ClipSampling`). Every value read is checked for NaN and
inf.
"""

from __future__ import annotations

import collections
import math
import mmap
import threading
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from keras_wsal.datasets.clip_sampling import ClipSampling
from keras_wsal.datasets.temporal_augmentation import TemporalAugmentation, interpolate
from keras_wsal.errors import DataError

CROPS = ("random", "uniform")

# The most bytes of feature files a reader keeps open (memory-mapped) between reads, the most
# recently used first: opening a `.npy` costs about 0.3 ms, as much as reading a 750-snippet crop
# at D 128, while pages of the open files that were read count in the process's resident memory.
OPEN_FILES_BYTES = 64 * 2**20


def crop_rows(
    num_snippets: int, max_length: int | None, crop: str, draw: int
) -> slice | np.ndarray:
    """The rows of a video of `num_snippets` snippets that one training element reads.

    With `L = min(T, max_length)`: all rows when `L = T`; otherwise "random" takes the `L`
    consecutive rows from `start = draw mod (T - L + 1)`, and "uniform" the `L` evenly spaced rows
    `floor(i * T / L)`, `i = 0 .. L - 1` (first row 0, spanning the whole video).
    """
    if max_length is None or num_snippets <= max_length:
        return slice(None)
    if crop == "random":
        start = draw % (num_snippets - max_length + 1)
        return slice(start, start + max_length)
    return np.arange(max_length) * num_snippets // max_length


# Batches of at least this many bytes are allocated in their own memory map (`zeroed_batch`).
OWN_MAP_BYTES = 16 * 2**20


def zeroed_batch(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A zeroed array of `shape`; from `OWN_MAP_BYTES` up, in its own anonymous memory map, whose
    pages go back to the system as soon as the last reference to it (the pipeline's tensor) is
    dropped.

    A batch allocated with `np.zeros` is a malloc block of up to 30 MiB (bfloat16 `[10, 750,
    2048]`): once one such block is freed, glibc raises its threshold for mapping blocks on their
    own and serves later ones from its heaps, which keep freed blocks, fragmented by the train
    step's own allocations: training's peak RSS grew by a third more than with this (bfloat16,
    D 2048; README, "Benchmarks"). The pages of a new map cost 0.6 ms per MiB to fault in as the
    batch is written, 2 % of the step at D 2048 but 9 % at D 256 (7.3 MiB float32 batches, whose
    heap blocks held 37 MiB more): smaller batches, and empty ones (a map cannot be empty), keep
    `np.zeros`.
    """
    size = math.prod(shape) * np.dtype(dtype).itemsize
    if size == 0 or size < OWN_MAP_BYTES:
        return np.zeros(shape, dtype)
    if hasattr(mmap, "MAP_ANONYMOUS"):  # POSIX: private memory, counted as the process's own
        pages = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    else:
        pages = mmap.mmap(-1, size)
    return np.frombuffer(pages, dtype).reshape(shape)


def _copy_rows(source: np.ndarray, out: np.ndarray, rows: slice | np.ndarray) -> None:
    """`out[:] = source[rows]` (as float32)."""
    out[...] = source[rows]


class ElementReader:
    """Reads a batch of videos' features (crops, resampled frames or clips): the Python side of
    the pipeline's map function."""

    def __init__(
        self,
        load_features: Callable[[str], Mapping[str, np.ndarray]],
        videos: Sequence[str],
        lengths: Sequence[int],
        streams: Sequence[str],
        max_length: int | None,
        crop: str,
        clip_sampling: ClipSampling | None = None,
        augmentation: TemporalAugmentation | None = None,
        dtype: np.dtype = np.float32,
    ):
        """`dtype`: of the arrays a batch returns. Rows are read, interpolated and checked in
        float32 and then rounded to it once (round to nearest even, as a cast in the model)."""
        self._dtype = np.dtype(dtype)
        self._load_features = load_features
        self._augmentation = augmentation
        self._videos = list(videos)
        self._lengths = list(lengths)
        self._streams = list(streams)
        self._max_length = max_length
        self._crop = crop
        self._clip_sampling = clip_sampling
        self._proposals: dict[int, np.ndarray] = {}
        # video index → (its open streams, their bytes), least recently used first
        self._open: collections.OrderedDict[int, tuple[Mapping[str, np.ndarray], int]] = (
            collections.OrderedDict()
        )
        self._open_bytes = 0
        # tf.data calls this reader from several threads at once. Opening a memory-mapped .npy
        # parses its header with `ast.literal_eval`, which CPython 3.11 does not make thread-safe
        # (a sporadic "SystemError: AST constructor recursion depth mismatch" was seen in CI), so
        # files are opened one at a time, and the open files are kept under the same lock;
        # reading the rows, the slow part, stays parallel.
        self._open_lock = threading.Lock()

    def _features(self, index: int) -> Mapping[str, np.ndarray]:
        """{stream: [T, D] array} of video `index`: open already, or opened now and kept open
        while the open files hold at most `OPEN_FILES_BYTES` (least recently used closed first)."""
        with self._open_lock:
            if index in self._open:
                self._open.move_to_end(index)
                return self._open[index][0]
            features = self._load_features(self._videos[index])
            size = sum(getattr(features[s], "nbytes", 0) for s in self._streams)
            if size <= OPEN_FILES_BYTES:
                self._open[index] = (features, size)
                self._open_bytes += size
                while self._open_bytes > OPEN_FILES_BYTES:
                    _, (_, closed_size) = self._open.popitem(last=False)
                    self._open_bytes -= closed_size
            return features

    def _plan(self, index: int, draw: int) -> tuple[str, Mapping[str, np.ndarray], Callable, int]:
        """`(video, features, read, steps)`: what element (index, draw) reads, before reading.

        `read(source, out)` writes the element's rows of one stream's array (a crop of its
        snippets, or WSGN's resampled frames: the same frames of every stream) into `out`
        `[steps, D]`.
        """
        video, features = self._videos[index], self._features(index)
        length = self._lengths[index]
        if self._augmentation is None:
            rows = crop_rows(length, self._max_length, self._crop, draw)
            steps = len(range(length)[rows]) if isinstance(rows, slice) else len(rows)
            return video, features, lambda source, out: _copy_rows(source, out, rows), steps
        # One start and one crop of the frames for every stream; only the rows around the kept
        # frames are read.
        crop_draw, start = divmod(draw, self._augmentation.start_frames)
        positions = self._augmentation.positions(length, start)
        positions = positions[crop_rows(len(positions), self._max_length, self._crop, crop_draw)]
        return (
            video,
            features,
            lambda source, out: interpolate(source, positions, out),
            len(positions),
        )

    def batch(
        self, indices: np.ndarray, draws: np.ndarray, length: int | None = None
    ) -> tuple[np.ndarray, ...]:
        """`(stream arrays [B, L, D]..., steps [B])`: the elements (indices[b], draws[b]).

        One call per batch (fewer Python round trips than one per element). Element b fills the
        first `steps[b]` rows of its video's slot; the rest is 0 (the pipeline's mask is
        `t < steps[b]`). L is `length`, or the longest element's steps when None.
        """
        plans = [self._plan(int(i), int(d)) for i, d in zip(indices, draws, strict=True)]
        steps = np.array([plan[3] for plan in plans], np.int64)
        slots = int(length) if length is not None else int(steps.max(initial=0))
        batch = []
        for stream in self._streams:
            dim = plans[0][1][stream].shape[1] if plans else 0
            out = zeroed_batch((len(plans), slots, dim), self._dtype)
            rounded = out.dtype != np.float32
            for b, (video, features, read, n) in enumerate(plans):
                rows = np.empty((n, dim), np.float32) if rounded else out[b, :n]
                read(features[stream], rows)
                self._check_finite(video, stream, features[stream], rows)
                if rounded:
                    out[b, :n] = rows
            batch.append(out)
        return (*batch, steps)

    def clip_batch(self, indices: np.ndarray, draw: np.int64) -> tuple[np.ndarray, ...]:
        """`(stream arrays [B, num_clips, D])` of the videos `indices` (`ClipSampling`).

        One call per batch: per element the work is a few rows, so a call per element would
        cost more than the reading. Each video's clip proposals are computed once, on first use.
        """
        rng = np.random.default_rng(int(draw) % 2**63)
        per_stream = [[] for _ in self._streams]
        for index in indices:
            index = int(index)
            video, features = self._videos[index], self._features(index)
            proposals = self._proposals.get(index)
            if proposals is None:
                stream = self._streams[0]
                first = self._finite(video, stream, features[stream], features[stream][:])
                proposals = self._proposals[index] = self._clip_sampling.proposals_of(first)
            clips = self._clip_sampling.clip_features(features, proposals, rng)
            for arrays, stream in zip(per_stream, self._streams, strict=True):
                arrays.append(self._finite(video, stream, features[stream], clips[stream]))
        return tuple(np.stack(arrays).astype(self._dtype, copy=False) for arrays in per_stream)

    @classmethod
    def _finite(cls, video: str, stream: str, source, values) -> np.ndarray:
        """`values` read from `source` (the stream's array) as float32, refused when not finite."""
        array = np.array(values, dtype=np.float32)
        cls._check_finite(video, stream, source, array)
        return array

    @staticmethod
    def _check_finite(video: str, stream: str, source, array: np.ndarray) -> None:
        # A sum is finite only if every value is (NaN and ±inf propagate), and summing is faster
        # than testing each value; a float32 overflow of the sum falls back to the exact test.
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(np.sum(array)):
                return
        if not np.isfinite(array).all():
            where = getattr(source, "filename", None) or f'stream "{stream}"'
            raise DataError(f'video "{video}": feature file {where} has NaN or inf values')
