"""TSN's augmentation (Wang et al. 2016): corner cropping with scale jittering. Its sparse
snippet sampling, one frame per segment of a clip, is `keras_wsal.proposals.segment_frames`."""

from __future__ import annotations

import cv2
import numpy as np

CROP_SCALES = (1.0, 0.875, 0.75, 0.66)


def multi_scale_crop(
    images: np.ndarray,
    input_size: int,
    rng: np.random.Generator | None = None,
    scales: tuple[float, ...] = CROP_SCALES,
    max_distort: int = 1,
) -> np.ndarray:
    """TSN's corner cropping and scale jittering (`GroupMultiScaleCrop`), one crop for all images.

    With `B = min(H, W)`, the crop sides are `round_down(B · s)` for `s` in `scales` (TSN:
    {256, 224, 192, 168} for `B = 256`), a side within 2 pixels of `input_size` snapped to it.
    A crop `(w, h)` takes its width and height from scales at most `max_distort` apart in the
    list, uniformly among those pairs; its position is one of 5, uniformly: the 4 corners and
    the centre (`(i Δw, j Δh)` for `(i, j)` in (0, 0), (4, 0), (0, 4), (4, 4), (2, 2), with
    `Δ = (image side - crop side) // 4`). The crop is resized to `input_size x input_size`
    (bilinear). With `rng=None` (test time): the centre square of side `min(input_size, B)`.

    Args:
        images: uint8 or float `[..., H, W, C]` (frames or flow stacks of one sample).
        input_size: the output side.
        rng: the random generator; `None` gives the centre crop.
        scales, max_distort: see above.

    Returns:
        `[..., input_size, input_size, C]`, the dtype of `images`.
    """
    images = np.asarray(images)
    if images.ndim < 3:
        raise ValueError(f"images must be [..., H, W, C], got shape {images.shape}")
    if input_size < 1:
        raise ValueError(f"input_size must be >= 1, got {input_size}")
    height, width = images.shape[-3:-1]
    if rng is None:
        w = h = min(input_size, height, width)
        left, top = (width - w) // 2, (height - h) // 2
    else:
        base = min(height, width)
        sides = [int(base * scale) for scale in scales]
        sides = [input_size if abs(side - input_size) < 3 else side for side in sides]
        pairs = [
            (sides[j], sides[i])
            for i in range(len(sides))
            for j in range(len(sides))
            if abs(i - j) <= max_distort
        ]
        w, h = pairs[rng.integers(len(pairs))]
        step_w, step_h = (width - w) // 4, (height - h) // 4
        i, j = ((0, 0), (4, 0), (0, 4), (4, 4), (2, 2))[rng.integers(5)]
        left, top = i * step_w, j * step_h
    crops = images[..., top : top + h, left : left + w, :]
    flat = crops.reshape(-1, h, w, images.shape[-1])
    size = (input_size, input_size)
    resized = [
        cv2.resize(np.ascontiguousarray(crop), size, interpolation=cv2.INTER_LINEAR)
        for crop in flat
    ]
    # cv2.resize drops a trailing axis of size 1.
    out = np.stack(resized).reshape(*images.shape[:-3], input_size, input_size, images.shape[-1])
    return out.astype(images.dtype, copy=False)
