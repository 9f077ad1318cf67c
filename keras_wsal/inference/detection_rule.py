"""`DetectionRule`: every setting of temporal detection in one object, and the rules by name.

A rule turns one video's model outputs (`VideoOutputs`) into segments:

1. the curve: the model's `detection_scores` (WSGN: g ⊙ softmax(h_cls); UntrimmedNet: class
   probabilities; W-TALC: raw logits) or its `snippet_scores`, smoothed by a centred moving
   average of `smoothing` snippets (1: none);
2. the class scores that choose which classes to localise and that fuse into segment scores:
   the model's video prediction ("video") or the mean of the top ⌈`top_k_ratio` · T⌉ values of the
   curve ("top_k", which does not shrink with the video's length as WSGN's mean ŷ does);
3. `keras_wsal.inference.detect_segments` with the rule's thresholds, eligibility (UntrimmedNet's
   attention ≥ 1e-4) and `PostProcessing`.

Named rules (`DetectionRule.named`): "untrimmednet" and "wsgn" (each paper's rule), "wtalc"
(W-TALC's published localisation), and "default", the rule that measured best on
`benchmarks/bench_quality.py` for models whose curve is a probability (WSGN, Naive, Supervised,
UntrimmedNet): it thresholds the class probabilities softmax(h_cls), which localised better
there than WSGN's g ⊙ softmax(h_cls), and keeps the classes whose video prediction is ≥ 0.05,
which ranked classes better there than the curve's top-k mean (README, "Results";
`benchmarks/bench_class_score.py`).
`DetectionRule.for_model(model, "default" | "paper")` picks a model's rule.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from keras_wsal.formats.snippet_outputs import check_selection, check_snippet_array
from keras_wsal.inference.detection import (
    THRESHOLD_MODES,
    PostProcessing,
    _check_thresholds,
    detect_segments,
)
from keras_wsal.utils.arguments import is_int

CURVES = ("detection_scores", "snippet_scores")
CLASS_SCORES = ("video", "top_k")
RULE_NAMES = ("default", "untrimmednet", "wsgn", "wtalc")
WSGN_MIN_DURATION = 1.0  # seconds: WSGN §4.4 keeps candidate segments at least one second long


@dataclasses.dataclass(frozen=True)
class DetectionRule:
    """How one video's model outputs become segments (module docstring).

    Attributes:
        name: the rule's name (for logs and run records).
        curve: "detection_scores" or "snippet_scores".
        smoothing: width in snippets of the centred moving average applied to the curve (odd; 1:
            none). At the video's ends the average is over the snippets that exist.
        class_score: "video" (the model's video prediction) or "top_k" (curve's top-k mean).
        top_k_ratio: k = ⌈top_k_ratio · T⌉ for "top_k".
        thresholds: one or several thresholds; their segments are unioned.
        threshold_mode: "absolute", "relative" (θ · the class's maximum) or "range" (min + θ ·
            (max − min)).
        attention_threshold: snippets whose selection weight is below this are background
            (UntrimmedNet: 1e-4); None: every snippet is eligible.
        post: class selection, minimum length, segment scores, NMS and the per-video cap
            (`PostProcessing`); its video-score fusion uses the class scores of step 2.
    """

    name: str = "custom"
    curve: str = "detection_scores"
    smoothing: int = 1
    class_score: str = "video"
    top_k_ratio: float = 0.125
    thresholds: tuple[float, ...] = (0.5,)
    threshold_mode: str = "relative"
    attention_threshold: float | None = None
    post: PostProcessing = PostProcessing()

    def __post_init__(self):
        if self.curve not in CURVES:
            raise ValueError(f"curve must be one of {CURVES}; got {self.curve!r}")
        if self.class_score not in CLASS_SCORES:
            raise ValueError(f"class_score must be one of {CLASS_SCORES}; got {self.class_score!r}")
        if self.threshold_mode not in THRESHOLD_MODES:
            raise ValueError(
                f"threshold_mode must be one of {THRESHOLD_MODES}; got {self.threshold_mode!r}"
            )
        if not is_int(self.smoothing, 1) or self.smoothing % 2 == 0:
            raise ValueError(f"smoothing must be an odd int >= 1; got {self.smoothing!r}")
        if not (isinstance(self.top_k_ratio, (int, float)) and 0 < self.top_k_ratio <= 1):
            raise ValueError(f"top_k_ratio must be in (0, 1]; got {self.top_k_ratio!r}")
        thresholds = (
            (self.thresholds,)
            if isinstance(self.thresholds, (int, float))
            else tuple(self.thresholds)
        )
        object.__setattr__(self, "thresholds", tuple(float(t) for t in thresholds))
        _check_thresholds(self.thresholds, self.threshold_mode != "absolute")
        if self.attention_threshold is not None and not math.isfinite(self.attention_threshold):
            raise ValueError(
                f"attention_threshold must be finite or None; got {self.attention_threshold!r}"
            )
        if not isinstance(self.post, PostProcessing):
            raise ValueError(f"post must be a PostProcessing; got {type(self.post).__name__}")

    # -- the rules by name ----------------------------------------------------------------------
    @classmethod
    def named(cls, name: str) -> DetectionRule:
        """The rule called `name` (one of `RULE_NAMES`)."""
        if name == "default":
            return cls(
                name="default",
                curve="snippet_scores",
                smoothing=3,
                class_score="video",
                thresholds=tuple(round(0.1 * i, 1) for i in range(1, 10)),
                threshold_mode="relative",
                post=PostProcessing(
                    class_threshold=0.05,
                    min_duration=0.0,
                    segment_score="outer_inner",
                    video_score_fusion="multiply",
                    nms_threshold=0.3,
                    max_detections=200,
                ),
            )
        if name == "untrimmednet":
            # UntrimmedNet §4: attention >= 1e-4 removes background, class score >= 0.5.
            return cls(
                name="untrimmednet",
                curve="snippet_scores",
                thresholds=(0.5,),
                threshold_mode="absolute",
                attention_threshold=1e-4,
                post=PostProcessing(class_threshold=0.1),
            )
        if name == "wsgn":
            # WSGN §4.4: threshold g ⊙ softmax(h_cls), group consecutive snippets, keep >= 1 s;
            # the paper gives no threshold value: half of each class's maximum.
            return cls(
                name="wsgn",
                thresholds=(0.5,),
                threshold_mode="relative",
                post=PostProcessing(class_threshold=0.1, min_duration=WSGN_MIN_DURATION),
            )
        if name == "wtalc":
            # W-TALC's published localisation on raw logits.
            return cls(
                name="wtalc",
                class_score="top_k",
                thresholds=(0.5,),
                threshold_mode="range",
                post=PostProcessing(
                    class_threshold=0.0,
                    min_snippets=2,
                    segment_score="max",
                    video_score_fusion="add",
                    video_score_weight=0.7,
                ),
            )
        raise ValueError(f"unknown detection rule {name!r}; expected one of {RULE_NAMES}")

    @classmethod
    def for_model(cls, model, recipe: str = "default") -> DetectionRule:
        """The rule a model detects with: its measured default, or its paper's (`recipe="paper"`).

        Default: W-TALC's rule for `WTALC` (its curve is raw logits), "default" otherwise. Paper:
        UntrimmedNet's for soft selection (it needs attention), W-TALC's for `WTALC`, WSGN's for
        the rest (WSGN, Naive, Supervised, hard UntrimmedNet, which has no attention).
        """
        kind = _model_kind(model)
        if recipe == "default":
            return cls.named("wtalc" if kind == "wtalc" else "default")
        if recipe == "paper":
            return cls.named(
                {"untrimmednet-soft": "untrimmednet", "wtalc": "wtalc"}.get(kind, "wsgn")
            )
        raise ValueError(f"unknown recipe {recipe!r}; expected 'default' or 'paper'")

    @classmethod
    def resolve(cls, model, rule: str | DetectionRule = "default", **changes) -> DetectionRule:
        """The rule `model` detects with under `rule`, with `changes` (see `replace`).

        `rule`: "default" or "paper" (`for_model`), a name of `RULE_NAMES` (`named`), or a
        `DetectionRule`. The same resolution serves `keras-wsal detect` and the exported graph.
        """
        if isinstance(rule, DetectionRule):
            chosen = rule
        elif rule in ("default", "paper"):
            chosen = cls.for_model(model, rule)
        elif rule in RULE_NAMES:
            chosen = cls.named(rule)
        else:
            raise ValueError(
                f"unknown detection rule {rule!r}; expected 'default', 'paper', one of "
                f"{RULE_NAMES} or a DetectionRule"
            )
        resolved = chosen.replace(**changes) if changes else chosen
        if _model_kind(model) != "wtalc":  # every curve but W-TALC's logits is a probability
            _check_thresholds_reach_probabilities(resolved)
        return resolved

    @classmethod
    def check_options(cls, rule: str = "default", **changes) -> None:
        """Check `changes` to the rule `rule` before any model is loaded (`keras-wsal detect`).

        "default" and "paper" depend on the model; the changes must then suit every rule that
        either may become. Raises the ValueError that `resolve` would.
        """
        if rule == "default":
            names = ("default", "wtalc")
        elif rule == "paper":
            names = ("untrimmednet", "wsgn", "wtalc")
        elif rule in RULE_NAMES:
            names = (rule,)
        else:
            raise ValueError(
                f"unknown detection rule {rule!r}; expected 'default', 'paper' or one of "
                f"{RULE_NAMES}"
            )
        for name in names:
            changed = cls.named(name).replace(**dict(changes))
            if name != "wtalc":
                _check_thresholds_reach_probabilities(changed)

    def replace(self, **changes) -> DetectionRule:
        """A copy with `changes`; keys of `PostProcessing` change `post`."""
        post_fields = {f.name for f in dataclasses.fields(PostProcessing)}
        post_changes = {k: changes.pop(k) for k in list(changes) if k in post_fields}
        post = dataclasses.replace(self.post, **post_changes)
        return dataclasses.replace(self, post=post, **changes)

    def to_dict(self) -> dict:
        """The rule as plain JSON values."""
        values = dataclasses.asdict(self)
        values["thresholds"] = list(self.thresholds)
        return values

    # -- applying the rule ----------------------------------------------------------------------
    def curve_of(self, outputs) -> np.ndarray:
        """The (smoothed) curve `[T, C]` of one video's outputs."""
        curve = np.asarray(getattr(outputs, self.curve), dtype=np.float64)
        return smooth_over_time(curve, self.smoothing)

    def class_scores(self, outputs, curve: np.ndarray | None = None) -> np.ndarray | None:
        """The class scores `[C]` of step 2 (None for "video" if the outputs lack video scores)."""
        if self.class_score == "video":
            return (
                None
                if outputs.video_scores is None
                else np.asarray(outputs.video_scores, dtype=np.float64)
            )
        return top_k_class_scores(
            self.curve_of(outputs) if curve is None else curve, self.top_k_ratio
        )

    def detect(self, outputs, feature_fps: float, classes: Sequence[str]) -> list[dict]:
        """One video's segments: `[{"label", "score", "segment": [start_s, end_s]}]`, best first."""
        curve = check_snippet_array(getattr(outputs, self.curve), self.curve, outputs.video)
        curve = smooth_over_time(curve, self.smoothing)
        eligible = None
        if self.attention_threshold is not None:
            eligible = (
                check_selection(outputs.selection, curve.shape, outputs.video)
                >= self.attention_threshold
            )
        return detect_segments(
            curve,
            feature_fps,
            classes,
            thresholds=self.thresholds,
            relative=self.threshold_mode,
            eligible=eligible,
            video_scores=self.class_scores(outputs, curve),
            post=self.post,
            video=outputs.video,
        )


def top_k_class_scores(curve: np.ndarray, ratio: float = 0.125) -> np.ndarray:
    """`[C]`: per class, the mean of the `⌈ratio · T⌉` highest values of `curve` `[T, C]`."""
    scores = np.asarray(curve, dtype=np.float64)
    k = max(1, math.ceil(ratio * scores.shape[0]))
    return np.sort(scores, axis=0)[-k:].mean(axis=0)


def smooth_over_time(curve: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average over axis 0 of `[T, C]`, over the snippets that exist at the ends.

        s_t = mean(x_j for j in [max(0, t - w//2), min(T, t + w//2 + 1)))

    Any T >= 1 keeps T rows (a video shorter than the window averages what it has).
    """
    if width == 1 or curve.shape[0] == 0:
        return curve
    half = width // 2
    steps = np.arange(curve.shape[0])
    low = np.maximum(steps - half, 0)
    high = np.minimum(steps + half + 1, curve.shape[0])
    totals = np.concatenate([np.zeros((1, curve.shape[1])), np.cumsum(curve, axis=0)])
    return (totals[high] - totals[low]) / (high - low)[:, None]


def _check_thresholds_reach_probabilities(rule: DetectionRule) -> None:
    """Absolute thresholds on a curve in [0, 1] must lie in (0, 1), or nothing can cross them."""
    if rule.threshold_mode == "absolute":
        outside = [t for t in rule.thresholds if not 0.0 < t < 1.0]
        if outside:
            raise ValueError(
                f"absolute thresholds on a probability curve must be in (0, 1); got {outside} "
                "(no snippet could cross them)"
            )


def _model_kind(model) -> str:
    """ "wtalc", "untrimmednet-soft" / "-hard" (UntrimmedNet on features or with its backbone,
    by its selection `mode`), or "wsgn" (WSGN, Naive, Supervised)."""
    from keras_wsal.models import WTALC

    if isinstance(model, WTALC):
        return "wtalc"
    mode = getattr(model, "mode", None)
    return f"untrimmednet-{mode}" if mode in ("soft", "hard") else "wsgn"
