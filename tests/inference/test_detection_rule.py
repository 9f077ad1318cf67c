"""`DetectionRule`: each named rule's settings pinned by a hand-built case."""

import dataclasses

import numpy as np
import pytest

from keras_wsal.inference import DetectionRule, PostProcessing, VideoOutputs, smooth_over_time
from keras_wsal.models import WSGN, WTALC, UntrimmedNet


def _outputs(curve, video_scores=None, selection=None, snippet_scores=None):
    curve = np.asarray(curve, dtype=np.float64)
    if curve.ndim == 1:
        curve = curve[:, None]
    return VideoOutputs(
        "v",
        np.zeros(curve.shape[1])
        if video_scores is None
        else np.asarray(video_scores, dtype=np.float64),
        curve if snippet_scores is None else np.asarray(snippet_scores, dtype=np.float64),
        np.ones((len(curve), 1)) if selection is None else np.asarray(selection, dtype=np.float64),
        curve,
    )


def test_default_settings_are_pinned():
    rule = DetectionRule.named("default")
    assert (rule.curve, rule.smoothing, rule.class_score, rule.top_k_ratio) == (
        "snippet_scores",
        3,
        "video",
        0.125,
    )
    assert (
        rule.thresholds == (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
        and rule.threshold_mode == "relative"
    )
    post = rule.post
    assert (
        post.class_threshold,
        post.min_duration,
        post.segment_score,
        post.video_score_fusion,
    ) == (
        0.05,
        0.0,
        "outer_inner",
        "multiply",
    )
    assert (post.nms_threshold, post.max_detections, post.outer_ratio) == (0.3, 200, 0.25)


def test_default_rule_on_a_hand_built_curve():
    # 20 snippets at 1 fps; one class whose curve is a plateau of 1 on snippets 6..9 and 0
    # elsewhere.
    curve = np.zeros(20)
    curve[6:10] = 1.0
    found = DetectionRule.named("default").detect(_outputs(curve, video_scores=[8 / 9]), 1.0, ["A"])
    # Smoothed (3 wide): 1/3 at 5 and 10, 2/3 at 6 and 9, 1 at 7..8. Thresholds θ·1 unioned give
    # [5, 11) (θ ≤ 0.3), [6, 10) (θ ≤ 0.6) and [7, 9) (θ ≥ 0.7). Class score: the video
    # prediction, 8/9. Outer-inner (flanks of max(1, ⌊0.25·L + 0.5⌋) snippets):
    # [5, 11): 2/3 - 0 (flanks of 2, all 0); [6, 10): 5/6 - 1/3; [7, 9): 1 - 2/3; each × 8/9.
    # NMS at 0.3 keeps [5, 11) (16/27) and suppresses [6, 10) (tIoU 4/6) and [7, 9) (2/6 > 0.3).
    assert found == [{"label": "A", "score": pytest.approx(16 / 27), "segment": [5.0, 11.0]}]


def test_default_class_selection_uses_the_video_score_from_0_05():
    curve = np.zeros((16, 3))
    curve[3:5] = 0.4  # every class has the same curve (top ⌈16/8⌉ = 2 mean 0.4)
    rule = DetectionRule.named("default")
    found = rule.detect(_outputs(curve, video_scores=[0.05, 0.049, 0.9]), 1.0, ["A", "B", "C"])
    assert {d["label"] for d in found} == {"A", "C"}  # B's 0.049 < 0.05
    # With class_score="top_k" the curve's top-k mean chooses instead: 0.4 for all three.
    top_k = rule.replace(class_score="top_k")
    found = top_k.detect(_outputs(curve, video_scores=[0.0, 0.0, 0.0]), 1.0, ["A", "B", "C"])
    assert {d["label"] for d in found} == {"A", "B", "C"}
    curve[3:5, 1] = 0.04  # top-2 mean 0.04 < 0.05: dropped
    found = top_k.detect(_outputs(curve, video_scores=[0.0, 0.9, 0.0]), 1.0, ["A", "B", "C"])
    assert {d["label"] for d in found} == {"A", "C"}


def test_paper_rules_are_pinned():
    unet = DetectionRule.named("untrimmednet")
    assert (unet.curve, unet.thresholds, unet.threshold_mode, unet.attention_threshold) == (
        "snippet_scores",
        (0.5,),
        "absolute",
        1e-4,
    )
    assert unet.post == PostProcessing(class_threshold=0.1)
    wsgn = DetectionRule.named("wsgn")
    assert (wsgn.curve, wsgn.thresholds, wsgn.threshold_mode, wsgn.post.min_duration) == (
        "detection_scores",
        (0.5,),
        "relative",
        1.0,
    )
    wtalc = DetectionRule.named("wtalc")
    assert (wtalc.class_score, wtalc.thresholds, wtalc.threshold_mode) == ("top_k", (0.5,), "range")
    assert (wtalc.post.class_threshold, wtalc.post.min_snippets, wtalc.post.segment_score) == (
        0.0,
        2,
        "max",
    )
    assert (wtalc.post.video_score_fusion, wtalc.post.video_score_weight) == ("add", 0.7)


def test_wtalc_rule_on_hand_built_logits():
    # Logits over 16 snippets: class A peaks on 4..6 (3 snippets) and once at 12; class B is
    # negative.
    logits = np.full((16, 2), -1.0)
    logits[4:7, 0] = [2.0, 3.0, 2.0]
    logits[12, 0] = 2.5
    found = DetectionRule.named("wtalc").detect(_outputs(logits), 1.0, ["A", "B"])
    # A: top-⌈16/8⌉ mean = (3 + 2.5) / 2 = 2.75 > 0; threshold -1 + 0.5 · 4 = 1: runs [4, 7) and
    # [12, 13), the second shorter than 2 snippets. Score: max 3 + 0.7 · 2.75. B: top-k mean -1 < 0.
    assert found == [{"label": "A", "score": pytest.approx(3 + 0.7 * 2.75), "segment": [4.0, 7.0]}]


def test_each_model_gets_its_rule():
    wsgn, soft, hard, wtalc = (
        WSGN(3, 4),
        UntrimmedNet(3, 4, mode="soft"),
        UntrimmedNet(3, 4, mode="hard"),
        WTALC(3, 4),
    )
    assert [DetectionRule.for_model(m).name for m in (wsgn, soft, hard, wtalc)] == [
        "default"
    ] * 3 + ["wtalc"]
    # One default rule for every model whose curve is a probability.
    for model in (wsgn, soft, hard, WSGN(3, 4, norms=()), WSGN(3, 4, norms="zloc")):
        assert DetectionRule.for_model(model) == DetectionRule.named("default")
    assert [DetectionRule.for_model(m, "paper").name for m in (wsgn, soft, hard, wtalc)] == [
        "wsgn",
        "untrimmednet",
        "wsgn",
        "wtalc",
    ]
    with pytest.raises(ValueError, match="unknown recipe"):
        DetectionRule.for_model(wsgn, "fastest")


def test_replace_reaches_the_post_processing():
    rule = DetectionRule.named("default").replace(nms_threshold=None, smoothing=5)
    assert rule.post.nms_threshold is None and rule.smoothing == 5
    assert dataclasses.replace(rule).post.segment_score == "outer_inner"


def test_smoothing_averages_over_the_snippets_that_exist():
    curve = np.array([[3.0], [0.0], [0.0], [6.0]])
    np.testing.assert_allclose(smooth_over_time(curve, 3)[:, 0], [1.5, 1.0, 2.0, 3.0])
    np.testing.assert_array_equal(smooth_over_time(curve, 1), curve)
    # A video shorter than the window keeps its length (np.convolve's 'same' would return 3 rows).
    np.testing.assert_allclose(smooth_over_time(np.array([[1.0], [3.0]]), 3), [[2.0], [2.0]])
    np.testing.assert_allclose(smooth_over_time(np.array([[1.0], [3.0]]), 5), [[2.0], [2.0]])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"smoothing": 2}, "smoothing must be an odd int"),
        ({"curve": "logits"}, "curve must be one of"),
        ({"class_score": "max"}, "class_score must be one of"),
        ({"threshold_mode": "median"}, "threshold_mode must be one of"),
        ({"thresholds": (1.5,)}, "relative thresholds must be in"),
        ({"top_k_ratio": 0.0}, "top_k_ratio must be in"),
    ],
)
def test_bad_settings_are_named(changes, message):
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(DetectionRule.named("default"), **changes)


def test_unknown_rule_name():
    with pytest.raises(ValueError, match="unknown detection rule 'magic'"):
        DetectionRule.named("magic")
