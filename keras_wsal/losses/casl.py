"""The co-activity similarity loss (CASL) of W-TALC (Paul et al., ECCV 2018)."""

from __future__ import annotations

from keras import ops

from keras_wsal.layers.masked_ops import float_mask, masked_softmax_over_time, safe_divide


def _cosine_distance(a, b):
    """1 - cos(a, b) along the last axis."""
    norms = ops.sqrt(ops.sum(ops.square(a), axis=-1) * ops.sum(ops.square(b), axis=-1))
    return 1.0 - safe_divide(ops.sum(a * b, axis=-1), norms)


def co_activity_similarity_loss(
    features, logits, labels, mask=None, margin: float = 0.5, pairs: int = 0
):
    """CASL: videos that share a class should have similar high-attention features.

    For video m and class j, with attention Â_m^j = softmax_t(logits_m[:, j]) over its valid
    snippets, the high- and low-attention features are

        H_m^j = Σ_t Â_m^j(t) X_m(t),    L_m^j = Σ_t (1 - Â_m^j(t)) X_m(t) / (T_m - 1),

    and for every ordered pair of videos (m, n), m ≠ n, that both contain class j,

        ℓ_mn^j = ½ [max(0, d(H_m, H_n) - d(H_m, L_n) + δ) + max(0, d(H_m, H_n) - d(L_m, H_n) + δ)]

    with d the cosine distance and δ = `margin`. The loss is the mean of ℓ_mn^j over all such
    (m, n, j); 0 when no two videos of the batch share a class.

    Which pairs (m, n) count: with `pairs=0`, every two videos of the batch; with `pairs=P > 0`,
    W-TALC's: only the consecutive videos (0, 1), (2, 3), …, (2P - 2, 2P - 1), the pairs its
    loader builds to share a class (`n_similar`; see `keras_wsal.datasets` and
    `make_training_dataset_from_weak_labels(similar_pairs=P)`). ℓ_mn = ℓ_nm, so the mean over
    ordered pairs equals W-TALC's over unordered ones.

    Args:
        features: `[B, T, D]` snippet features X.
        logits: `[B, T, C]` class activations.
        labels: `[B, C]` multi-hot video labels.
        mask: optional boolean `[B, T]`.
        margin: δ.
        pairs: 0 (every pair) or W-TALC's number of consecutive pairs `P`.

    Returns:
        A float32 scalar.
    """
    features = ops.cast(features, "float32")
    logits = ops.cast(logits, "float32")
    labels = ops.cast(labels, "float32")
    valid = float_mask(mask, logits)
    attention = masked_softmax_over_time(logits, valid)  # [B, T, C]
    count = ops.sum(valid, axis=1)  # [B, 1]
    high = ops.einsum("btc,btd->bcd", attention, features)
    low_weights = (1.0 - attention) * valid
    low = (
        ops.einsum("btc,btd->bcd", low_weights, features)
        / ops.maximum(count - 1.0, 1.0)[:, :, None]
    )
    # Pairwise distances [B(m), B(n), C].
    d_hh = _cosine_distance(high[:, None], high[None, :])
    d_hl = _cosine_distance(high[:, None], low[None, :])
    d_lh = _cosine_distance(low[:, None], high[None, :])
    pair_loss = 0.5 * (ops.relu(d_hh - d_hl + margin) + ops.relu(d_hh - d_lh + margin))
    batch = ops.shape(labels)[0]
    counted = 1.0 - ops.eye(batch, dtype="float32")
    if pairs:
        # (m, n) with m ≠ n in the same consecutive pair, m < 2P.
        position = ops.arange(batch)
        same_pair = ops.equal(position[:, None] // 2, position[None, :] // 2)
        in_pairs = ops.less(position, 2 * pairs)
        counted = counted * ops.cast(same_pair & in_pairs[:, None], "float32")
    shared = labels[:, None, :] * labels[None, :, :] * counted[:, :, None]
    return safe_divide(ops.sum(pair_loss * shared), ops.sum(shared))
