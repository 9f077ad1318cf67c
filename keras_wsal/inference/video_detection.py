"""Detection on video files with a trained run: the run's own feature extraction, then its model.

A run records in `features.json` how its training features were made: `keras-wsal extract`'s
settings (backbone, weights files, flow method, frame and snippet rate, crop) and the seed of a
randomly initialised backbone. `VideoDetector.from_run` rebuilds that extractor; `outputs` decodes
one video (streamed: a window of frames in memory, never the whole video), extracts its snippet
features exactly as `extract` did, and runs the model on them. A run trained on features that
keras_wsal did not extract (e.g. W-TALC's I3D features) is refused with what to do instead.
(Reading the run folder is `keras_wsal.training`'s: `load_run_model`, `load_feature_record`.)
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from keras_wsal.errors import DataError
from keras_wsal.inference.predict import VideoOutputs, predict_features


@dataclasses.dataclass
class VideoDetector:
    """A run's model with the feature extractor of its training data.

    Attributes:
        model: the trained keras_wsal model.
        classes: its class names.
        settings: the `keras_wsal.extraction.ExtractionSettings` of the run's features.
        feature_fps: snippets per second.
    """

    model: object
    classes: list[str]
    settings: object
    feature_fps: float
    _streams: tuple

    @classmethod
    def build(
        cls,
        model,
        classes: list[str],
        feature_record: dict,
        weights: str | os.PathLike | None = None,
        flow_weights: str | os.PathLike | None = None,
        run_name: str = "the run",
    ) -> VideoDetector:
        """The detector of `model`, trained on features described by `feature_record`.

        `feature_record` is a run's `features.json`
        (`keras_wsal.training.run_folder.load_feature_record`); `weights`/`flow_weights` replace
        the weights files it names. For a run folder:

            model, classes = load_run_model(run)
            detector = VideoDetector.build(model, classes, load_feature_record(run))

        Raises:
            DataError: the features were not made by `extract`, or a recorded weights file is
                gone and none is given instead.
        """
        from keras_wsal.extraction import ExtractionSettings, make_streams

        extraction = feature_record.get("extraction")
        if not extraction:
            source = feature_record.get("dataset", "a dataset")
            raise DataError(
                f"{run_name}: its features come from {source}, which `keras-wsal extract` did not "
                "make (e.g. imported I3D features), so they cannot be made from videos here; "
                "extract them with the same network, write them as a feature dataset and run "
                f"`keras-wsal detect --data DATASET --subset SUBSET --model {run_name}`"
            )
        fields = {f.name for f in dataclasses.fields(ExtractionSettings)}
        values = {k: v for k, v in extraction.items() if k in fields}
        values["frame_size"] = tuple(values.get("frame_size", ExtractionSettings.frame_size))
        settings = ExtractionSettings(**values)
        rgb_weights = _weights(weights, extraction.get("rgb_weights"), "--weights")
        flow_file = _weights(flow_weights, extraction.get("flow_weights"), "--flow-weights")
        rgb_model, flow_model, _ = make_streams(
            settings, rgb_weights, flow_file, seed=int(extraction.get("random_init_seed", 0))
        )
        return cls(model, list(classes), settings, settings.feature_fps, (rgb_model, flow_model))

    def outputs(self, video: str, path: str | os.PathLike) -> tuple[VideoOutputs, float]:
        """The model's outputs on the video file `path`, and the video's duration in seconds.

        Raises:
            VideoError: the video cannot be decoded.
        """
        from keras_wsal.extraction import extract_video_features

        rgb_model, flow_model = self._streams
        features = extract_video_features(path, rgb_model, flow_model, self.settings)
        outputs = predict_features(self.model, video, {"rgb": features.rgb, "flow": features.flow})
        return outputs, features.duration


def _weights(given, recorded, option: str):
    """The weights file to load: the one given, else the recorded one, which must still exist."""
    if given is not None:
        return given
    if recorded is None:
        return None
    if not Path(recorded).is_file():
        raise DataError(
            f"the run's features were extracted with weights {recorded}, which is not there: "
            f"pass the same file with {option}"
        )
    return recorded
