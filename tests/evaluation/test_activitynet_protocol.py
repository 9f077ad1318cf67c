"""The activitynet protocol on hand-computed cases, and against a port of the official loop."""

import numpy as np
import pytest

from keras_wsal.evaluation import activitynet_average_precision, evaluate_detection


def _detections(*rows):
    """rows of (video, start, end, score) -> {video: (segments, scores)} in row order."""
    grouped = {}
    for video, start, end, score in rows:
        grouped.setdefault(video, ([], []))
        grouped[video][0].append([start, end])
        grouped[video][1].append(score)
    return {
        v: (np.array(s, dtype=float), np.array(c, dtype=float)) for v, (s, c) in grouped.items()
    }


GROUND_TRUTH = {"v1": np.array([[0.0, 10.0], [20.0, 30.0]]), "v2": np.array([[0.0, 5.0]])}
DETECTIONS = _detections(
    ("v1", 0, 10, 0.9),  # tIoU 1 with v1 g1 -> TP
    ("v1", 1, 10, 0.8),  # tIoU 0.9 with g1, already matched -> duplicate, FP
    ("v2", 0, 4, 0.7),  # tIoU 4/5 = 0.8 with v2 g -> TP when threshold <= 0.8
    ("v3", 0, 1, 0.6),  # no ground truth of the class in v3 -> FP
    ("v1", 22, 30, 0.5),  # tIoU 8/10 = 0.8 with g2 -> TP when threshold <= 0.8
)


def test_hand_computed_ap():
    ap = activitynet_average_precision(GROUND_TRUTH, DETECTIONS, [0.5, 0.8, 0.9])
    # threshold 0.5 (and 0.8: ">=" keeps tIoU exactly 0.8): hits T,F,T,F,T with 3 positives:
    # precision 1, 1/2, 2/3, 1/2, 3/5; recall 1/3, 1/3, 2/3, 2/3, 1.
    # Envelope at the recall steps: 1, 2/3, 3/5 -> AP = (1 + 2/3 + 3/5) / 3 = 34/45.
    # threshold 0.9: only the first detection -> AP = 1/3 * 1 = 1/3.
    np.testing.assert_allclose(ap, [34 / 45, 34 / 45, 1 / 3])


def test_no_detection_scores_zero():
    np.testing.assert_array_equal(activitynet_average_precision(GROUND_TRUTH, {}, [0.5]), [0.0])


def test_ties_keep_file_order():
    truth = {"v": np.array([[0.0, 10.0]])}
    # Equal scores: the false positive listed first ranks first -> hits F,T -> AP 1/2;
    # listed second -> hits T,F -> AP 1.
    false_first = _detections(("v", 50, 60, 0.5), ("v", 0, 10, 0.5))
    true_first = _detections(("v", 0, 10, 0.5), ("v", 50, 60, 0.5))
    assert activitynet_average_precision(truth, false_first, [0.5])[0] == pytest.approx(0.5)
    assert activitynet_average_precision(truth, true_first, [0.5])[0] == pytest.approx(1.0)


def test_matches_the_unmatched_ground_truth_of_highest_tiou():
    truth = {"v": np.array([[0.0, 10.0], [4.0, 14.0]])}
    # d1 [3,12]: tIoU 7/12 with g1, 8/11 with g2 -> takes g2 (highest).
    # d2 [5,14]: tIoU 5/14 with g1 (< 0.5), 9/10 with g2 (taken) -> FP.
    # hits T,F with 2 positives -> AP = 1/2.
    detections = _detections(("v", 3, 12, 0.9), ("v", 5, 14, 0.8))
    assert activitynet_average_precision(truth, detections, [0.5])[0] == pytest.approx(0.5)


def test_zero_length_detection_never_matches():
    truth = {"v": np.array([[0.0, 10.0], [20.0, 20.0]])}
    detections = _detections(("v", 5, 5, 0.9), ("v", 20, 20, 0.8))
    assert activitynet_average_precision(truth, detections, [0.1])[0] == 0.0


def _official_port(truth, detections, thresholds):
    """ActivityNet's compute_average_precision_detection + interpolated_prec_rec, loops as there."""
    rows = [
        (v, s, e, c)
        for v, (segs, scores) in detections.items()
        for (s, e), c in zip(segs, scores, strict=True)
    ]
    rows.sort(key=lambda row: -row[3])
    gt_rows = [(v, s, e) for v, segs in truth.items() for s, e in segs]
    npos = len(gt_rows)
    lock = -np.ones((len(thresholds), npos))
    tp = np.zeros((len(thresholds), len(rows)))
    fp = np.zeros((len(thresholds), len(rows)))
    for idx, (video, start, end, _) in enumerate(rows):
        candidates = [j for j, g in enumerate(gt_rows) if g[0] == video]
        if not candidates:
            fp[:, idx] = 1
            continue
        tious = []
        for j in candidates:
            inter = max(0.0, min(end, gt_rows[j][2]) - max(start, gt_rows[j][1]))
            union = (end - start) + (gt_rows[j][2] - gt_rows[j][1]) - inter
            tious.append(inter / union)
        ordered = sorted(range(len(candidates)), key=lambda k: -tious[k])
        for t, threshold in enumerate(thresholds):
            for k in ordered:
                if tious[k] < threshold:
                    fp[t, idx] = 1
                    break
                if lock[t, candidates[k]] >= 0:
                    continue
                tp[t, idx] = 1
                lock[t, candidates[k]] = idx
                break
            if fp[t, idx] == 0 and tp[t, idx] == 0:
                fp[t, idx] = 1
    result = []
    for t in range(len(thresholds)):
        tpc, fpc = np.cumsum(tp[t]), np.cumsum(fp[t])
        rec, prec = tpc / npos, tpc / (tpc + fpc)
        mprec = np.hstack([[0], prec, [0]])
        mrec = np.hstack([[0], rec, [1]])
        for i in range(len(mprec) - 1)[::-1]:
            mprec[i] = max(mprec[i], mprec[i + 1])
        idx = np.where(mrec[1:] != mrec[:-1])[0] + 1
        result.append(np.sum((mrec[idx] - mrec[idx - 1]) * mprec[idx]))
    return np.array(result)


@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_a_port_of_the_official_code(seed):
    rng = np.random.default_rng(seed)
    truth, detections = {}, {}
    for video in range(4):
        starts = rng.uniform(0, 100, size=rng.integers(1, 5))
        truth[f"v{video}"] = np.stack([starts, starts + rng.uniform(1, 20, starts.size)], axis=1)
    for video in range(5):  # v4 has no ground truth
        count = rng.integers(0, 12)
        starts = rng.uniform(0, 100, size=count)
        segments = np.stack([starts, starts + rng.uniform(1, 20, count)], axis=1)
        detections[f"v{video}"] = (segments, rng.uniform(0, 1, count))  # distinct scores
    thresholds = [0.1, 0.3, 0.5, 0.7]
    np.testing.assert_allclose(
        activitynet_average_precision(truth, detections, thresholds),
        _official_port(truth, detections, thresholds),
        atol=1e-12,
    )


def test_entry_point_with_duplicates_and_a_class_without_predictions():
    ground_truth = {
        "database": {
            "v1": {
                "subset": "test",
                "annotations": [
                    {"label": "A", "segment": [0, 10]},
                    {"label": "A", "segment": [20, 30]},
                ],
            },
            "v2": {"subset": "test", "annotations": [{"label": "A", "segment": [0, 5]}]},
            "v3": {"subset": "test", "annotations": [{"label": "B", "segment": [0, 2]}]},
        }
    }
    predictions = {
        "results": {
            "v1": [
                {"label": "A", "score": 0.9, "segment": [0, 10]},
                {"label": "A", "score": 0.8, "segment": [1, 10]},
                {"label": "A", "score": 0.5, "segment": [22, 30]},
            ],
            "v2": [{"label": "A", "score": 0.7, "segment": [0, 4]}],
            "v3": [{"label": "A", "score": 0.6, "segment": [0, 1]}],
        }
    }
    result = evaluate_detection(ground_truth, predictions, tiou_thresholds=[0.5, 0.9])
    # Class A as in test_hand_computed_ap: 34/45 and 1/3. Class B has no prediction: 0.
    assert result.per_class_AP == {"A": pytest.approx([34 / 45, 1 / 3]), "B": [0.0, 0.0]}
    np.testing.assert_allclose(result.mAP, [34 / 90, 1 / 6])
    assert result.average_mAP == pytest.approx((34 / 90 + 1 / 6) / 2)
