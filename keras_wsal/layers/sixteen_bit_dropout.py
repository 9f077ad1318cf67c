"""Inverted dropout whose keep mask costs 16 random bits per element instead of a float."""

from __future__ import annotations

import keras

from keras_wsal.utils.registration import keras_wsal_serializable

# Random bits per element of the mask: the keep probability is a multiple of 2**-16.
MASK_BITS = 16


def keep_threshold(rate: float) -> int:
    """The 16-bit threshold of `SixteenBitDropout`: an element is kept when its random 16-bit
    integer u (uniform on 0 … 65535) is ≥ this, so P(keep) = (65536 − threshold) / 65536."""
    return round(rate * 2**MASK_BITS)


@keras_wsal_serializable
class SixteenBitDropout(keras.layers.Dropout):
    """`keras.layers.Dropout` with a cheaper mask under TensorFlow: 16 random bits per element.

    Inverted dropout, y = x · m / q with m ~ Bernoulli(q) per element, keep probability q. Keras'
    TensorFlow dropout draws a float uniform per element (`tf.nn.experimental.stateless_dropout`).
    Here one stateless Philox draw of 32-bit integers gives two elements' 16-bit integers u, and
    m = [u ≥ θ] with θ = round(rate · 2¹⁶), so

        q = (2¹⁶ − θ) / 2¹⁶,   y = x · m · (1 / q)   (1 / q rounded to x's dtype, as Keras does)

    The rate is taken to the nearest multiple of 2⁻¹⁶ (|q − (1 − rate)| ≤ 2⁻¹⁷) and the scale is
    the exact 1 / q, so E[y] = x up to the scale's rounding. In WSGN's bfloat16 train step on a
    [10, 750, 2048] input it costs under 1 % of the step, where Keras' dropout cost about 11 %
    (`benchmarks/bench_training.py --dropout`, README "Benchmarks").

    Under JAX and PyTorch, with a `noise_shape`, or when the last axis is odd or not known when
    the graph is built, it is `keras.layers.Dropout` exactly.

    Args: as `keras.layers.Dropout` (`rate` in [0, 1], `noise_shape`, `seed`).

    Input shape: any. Output shape: the input's.
    """

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        last = inputs.shape[-1] if len(inputs.shape) else None
        if (
            keras.backend.backend() != "tensorflow"
            or self.noise_shape is not None
            or last is None
            or last % 2
        ):
            return super().call(inputs, training=training)
        import tensorflow as tf

        threshold = keep_threshold(self.rate)
        if threshold == 2**MASK_BITS:  # a rate within 2⁻¹⁷ of 1 keeps nothing
            return tf.zeros_like(inputs)
        seed = tf.cast(tf.math.floormod(self.seed_generator.next(), 2**31 - 1), tf.int32)
        shape = tf.shape(inputs)
        # One 32-bit word per two elements along the last axis, bitcast to its two 16-bit halves.
        words = tf.random.stateless_uniform(
            tf.concat([shape[:-1], [last // 2]], axis=0),
            seed=seed,
            minval=None,
            maxval=None,
            dtype=tf.uint32,
        )
        draws = tf.reshape(tf.bitcast(words, tf.uint16), shape)
        keep = draws >= tf.constant(threshold, tf.uint16)
        scale = tf.cast(2**MASK_BITS / (2**MASK_BITS - threshold), inputs.dtype)
        return tf.where(keep, inputs * scale, tf.zeros((), inputs.dtype))
