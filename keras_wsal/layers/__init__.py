"""The selection and normalisation layers of UntrimmedNet and WSGN.

| layer | paper, equation |
| --- | --- |
| `TopKSelect` | UntrimmedNet eq. 3: mean of the top-k scores over time |
| `AttentionSelect` | UntrimmedNet eq. 2 and 4: softmax attention over clips, weighted sum |
| `GaussianLocalNorm` | WSGN eq. 3 (ZLoc): Gaussian with the video's own mean and deviation |
| `GaussianGlobalNorm` | WSGN eq. 5 (GLoc): Gaussian with a learned mean and deviation per class |
| `TemporalSoftmaxNorm` | WSGN eq. 7 (SLoc): softmax over time per class |
| `SixteenBitDropout` | `keras.layers.Dropout` drawing 16 random bits per element (TensorFlow) |
"""

from keras_wsal.layers.attention_select import AttentionSelect
from keras_wsal.layers.gaussian_global_norm import GaussianGlobalNorm
from keras_wsal.layers.gaussian_local_norm import GaussianLocalNorm
from keras_wsal.layers.sixteen_bit_dropout import SixteenBitDropout
from keras_wsal.layers.temporal_softmax_norm import TemporalSoftmaxNorm
from keras_wsal.layers.topk_select import TopKSelect

__all__ = [
    "AttentionSelect",
    "GaussianGlobalNorm",
    "GaussianLocalNorm",
    "SixteenBitDropout",
    "TemporalSoftmaxNorm",
    "TopKSelect",
]
