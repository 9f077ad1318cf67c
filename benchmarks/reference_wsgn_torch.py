"""A plain PyTorch training loop of WSGN's head and loss: the speed reference of bench_side_by_side.

The same network as `keras_wsal.models.WSGN` (complete, float32): dropout on the features, h_cls
and h_det each `Linear(D, D) → ReLU → Linear(D, C)`, the frame selection g = the mean of ZLoc
`exp(-(x - μ_z)² / (σ_z² + ε))` (statistics over the valid snippets), GLoc
`exp(-((x - μ_l) / s_l)²)` with learned μ_l and `s_l = softplus(ρ) + 1e-3`, and SLoc
`T_valid · softmax_t(x)`; ŷ = mean over valid snippets of `g ⊙ softmax_c(h_cls)`; binary
cross-entropy, Adam, and coupled weight decay on the kernels (as `weight_decay / 2 · ‖W‖²`). The
batches are read as keras_wsal's default WSGN recipe reads them: each video's features linearly
interpolated at every 5th frame from a random start among the first 15 (WSGN §4.2; 16 frames per
I3D snippet), a random crop of 750 of those steps, read from the memory-mapped file, padded to
the batch's longest video with a mask (`frame_stride=0`: 750-snippet crops of the snippets as
they are). Written the way a
PyTorch user would, without tuning, so that it measures what an ordinary loop costs.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class WSGNHead(nn.Module):
    def __init__(self, feature_dim: int, num_classes: int, dropout: float = 0.7):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.cls = nn.Sequential(
            nn.Linear(feature_dim, feature_dim), nn.ReLU(), nn.Linear(feature_dim, num_classes)
        )
        self.det = nn.Sequential(
            nn.Linear(feature_dim, feature_dim), nn.ReLU(), nn.Linear(feature_dim, num_classes)
        )
        self.gloc_mean = nn.Parameter(torch.zeros(num_classes))
        self.gloc_raw_sigma = nn.Parameter(torch.full((num_classes,), np.log(np.expm1(1 - 1e-3))))

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        valid = mask.float().unsqueeze(-1)  # [B, T, 1]
        count = valid.sum(1, keepdim=True).clamp_min(1.0)
        f = self.dropout(features)
        probabilities = torch.softmax(self.cls(f), dim=-1)
        x = self.det(f)
        mean = (x * valid).sum(1, keepdim=True) / count
        variance = (((x - mean) ** 2) * valid).sum(1, keepdim=True) / count
        zloc = torch.exp(-((x - mean) ** 2) / (variance + 1e-3))
        sigma = nn.functional.softplus(self.gloc_raw_sigma) + 1e-3
        gloc = torch.exp(-(((x - self.gloc_mean) / sigma) ** 2))
        sloc = count * torch.softmax(x.masked_fill(valid == 0, -1e9), dim=1)
        selection = (zloc + gloc + sloc) / 3.0
        return (selection * probabilities * valid).sum(1) / count.squeeze(1)


def read_batch(arrays, labels, order, max_length, rng, frame_stride=5, frames_per_snippet=16):
    """A padded batch of random crops of the videos `order` (memory-mapped `[T, D]` arrays)."""
    crops = []
    for index in order:
        array = arrays[index]
        if frame_stride:
            # Frame f sits at snippet position (f + 1/2) / F - 1/2; lerp between its two snippets.
            frames = np.arange(rng.integers(0, 15), len(array) * frames_per_snippet, frame_stride)
            positions = (frames + 0.5) / frames_per_snippet - 0.5
            first = rng.integers(0, max(len(positions) - max_length, 0) + 1)
            positions = np.clip(positions[first : first + max_length], 0, len(array) - 1)
            lower = np.floor(positions).astype(np.int64)
            upper = np.minimum(lower + 1, len(array) - 1)
            weight = (positions - lower).astype(np.float32)[:, None]
            crops.append((1 - weight) * array[lower] + weight * array[upper])
        else:
            start = rng.integers(0, max(len(array) - max_length, 0) + 1)
            crops.append(np.asarray(array[start : start + max_length], dtype=np.float32))
    length = max(len(c) for c in crops)
    features = np.zeros((len(crops), length, crops[0].shape[1]), np.float32)
    mask = np.zeros((len(crops), length), bool)
    for row, crop in enumerate(crops):
        features[row, : len(crop)] = crop
        mask[row, : len(crop)] = True
    return torch.from_numpy(features), torch.from_numpy(mask), torch.from_numpy(labels[order])


def make_step(model: WSGNHead, learning_rate=3e-4, weight_decay=5e-4):
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    kernels = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]

    def step(features, mask, labels):
        optimizer.zero_grad()
        video = model(features, mask).clamp(1e-7, 1 - 1e-7)
        loss = nn.functional.binary_cross_entropy(video, labels)
        loss = loss + weight_decay / 2 * sum((k**2).sum() for k in kernels)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def step_flops(feature_dim: int, num_classes: int, snippets: int) -> int:
    """FLOPs of one step counted as `bench_training.step_flops` counts them for WSGN."""
    forward = lambda d_in, d_out: 2 * snippets * d_in * d_out  # noqa: E731
    on_features = 2 * forward(feature_dim, feature_dim)  # two hidden layers: forward + kernel grad
    on_hidden = 2 * forward(feature_dim, num_classes)  # two output layers
    return 2 * on_features + 3 * on_hidden
