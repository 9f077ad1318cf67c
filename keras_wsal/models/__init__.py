"""The models of the two papers, built from `keras_wsal.layers`.

- `UntrimmedNet(mode="hard" | "soft")`: classification module + top-k or attention selection.
- `WSGN(norms=...)`: classification and selection heads, frame selection by ZLoc / GLoc / SLoc;
  `norms=()` is the Naive baseline.
- `WTALC(...)`: W-TALC's model (hidden layer, top-k MIL, CASL), a published baseline.
- `SupervisedWSGN(...)`: WSGN trained with frame labels, the upper bound (reads segments).
- `UntrimmedNetVideo(...)`: UntrimmedNet with its image backbone inside, on clips of raw frames
  (end-to-end training, `keras_wsal.training.end_to_end`).
- `build_model(name, ...)`: a model by its command-line name; `loss_for_model(model)` its loss;
  `default_norms(name)` the WSGN norms it uses by default.
- `fuse_streams(models)`: one late-fusion model from models trained on one stream each.
"""

from typing import TYPE_CHECKING

from keras_wsal.utils.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from keras_wsal.models.factory import build_model, loss_for_model
    from keras_wsal.models.names import MODEL_NAMES, default_norms
    from keras_wsal.models.stream_fusion import fuse_streams
    from keras_wsal.models.supervised import SupervisedWSGN
    from keras_wsal.models.untrimmednet import UntrimmedNet
    from keras_wsal.models.untrimmednet_video import UntrimmedNetVideo
    from keras_wsal.models.wsgn import WSGN
    from keras_wsal.models.wtalc import WTALC

__all__ = [
    "MODEL_NAMES",
    "SupervisedWSGN",
    "UntrimmedNet",
    "UntrimmedNetVideo",
    "WSGN",
    "WTALC",
    "build_model",
    "default_norms",
    "fuse_streams",
    "loss_for_model",
]

__getattr__, __dir__ = lazy_exports(__name__, __file__, __all__)
