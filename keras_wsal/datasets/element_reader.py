"""The Python side of the training and inference pipelines: what one element reads.

`ElementReader` reads one video's rows from its (memory-mapped) feature files: a crop of its
snippets, WSGN's resampled frames (`TemporalAugmentation`), or for a whole batch UntrimmedNet's
clip features (`ClipSampling`). Every value read is checked for NaN and inf.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from keras_wsal.datasets.clip_sampling import ClipSampling
from keras_wsal.datasets.temporal_augmentation import TemporalAugmentation, interpolate
from keras_wsal.errors import DataError

CROPS = ("random", "uniform")


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


class ElementReader:
    """Reads (a crop of) one video's features: the Python side of the pipeline's map function."""

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
    ):
        self._load_features = load_features
        self._augmentation = augmentation
        self._videos = list(videos)
        self._lengths = list(lengths)
        self._streams = list(streams)
        self._max_length = max_length
        self._crop = crop
        self._clip_sampling = clip_sampling
        self._opened: dict[int, tuple] = {}
        # tf.data calls this reader from several threads at once. Opening a memory-mapped .npy
        # parses its header with `ast.literal_eval`, which CPython 3.11 does not make thread-safe
        # (a sporadic "SystemError: AST constructor recursion depth mismatch" was seen in CI), so
        # files are opened one at a time; reading the rows, the slow part, stays parallel.
        self._open_lock = threading.Lock()

    def __call__(self, index: np.int64, draw: np.int64) -> tuple[np.ndarray, ...]:
        video = self._videos[int(index)]
        with self._open_lock:
            features = self._load_features(video)
        length = self._lengths[int(index)]
        if self._augmentation is None:
            rows = crop_rows(length, self._max_length, self._crop, int(draw))
            return tuple(
                self._finite(video, stream, features[stream], features[stream][rows])
                for stream in self._streams
            )
        # The same frames of every stream: one start, one crop of the frames, and only the rows
        # around the kept frames read.
        crop_draw, start = divmod(int(draw), self._augmentation.start_frames)
        positions = self._augmentation.positions(length, start)
        positions = positions[crop_rows(len(positions), self._max_length, self._crop, crop_draw)]
        return tuple(
            self._finite(video, stream, features[stream], interpolate(features[stream], positions))
            for stream in self._streams
        )

    def clip_batch(self, indices: np.ndarray, draw: np.int64) -> tuple[np.ndarray, ...]:
        """`(stream arrays [B, num_clips, D])` of the videos `indices` (`ClipSampling`).

        One call per batch: per element the work is a few rows, so a call per element would
        cost more than the reading. The videos' files stay open (memory-mapped) and their clip
        proposals are computed once, on first use.
        """
        rng = np.random.default_rng(int(draw) % 2**63)
        per_stream = [[] for _ in self._streams]
        for index in indices:
            video, features, proposals = self._opened_with_proposals(int(index))
            clips = self._clip_sampling.clip_features(features, proposals, rng)
            for arrays, stream in zip(per_stream, self._streams, strict=True):
                arrays.append(self._finite(video, stream, features[stream], clips[stream]))
        return tuple(np.stack(arrays) for arrays in per_stream)

    def _opened_with_proposals(self, index: int):
        opened = self._opened.get(index)
        if opened is None:
            video = self._videos[index]
            with self._open_lock:
                loaded = self._load_features(video)
            features = {stream: loaded[stream] for stream in self._streams}
            stream = self._streams[0]
            first = self._finite(video, stream, features[stream], features[stream][:])
            opened = self._opened[index] = (
                video,
                features,
                self._clip_sampling.proposals_of(first),
            )
        return opened

    @staticmethod
    def _finite(video: str, stream: str, source, values) -> np.ndarray:
        """`values` read from `source` (the stream's array) as float32, refused when not finite."""
        array = np.array(values, dtype=np.float32)
        if not np.isfinite(array).all():
            where = getattr(source, "filename", None) or f'stream "{stream}"'
            raise DataError(f'video "{video}": feature file {where} has NaN or inf values')
        return array
