"""Charades' annotation CSV and localisation submission; `evaluate --protocol charades` against a
NumPy transcription of Charades_v1_localize.m on hand-built files."""

import json
import re

import numpy as np
import pytest

from keras_wsal.cli import main
from keras_wsal.errors import DataError
from keras_wsal.formats.charades import (
    charades_annotations,
    read_charades_submission,
    write_charades_submission,
)

CSV = """id,subject,scene,quality,relevance,verified,script,objects,descriptions,actions,length
AAA,s1,Kitchen,6,7,Yes,x,y,z,c000 0.00 10.00;c001 12.00 20.00,25.0
BBB,s2,Bedroom,6,7,Yes,x,y,z,c001 0.00 5.00,10.0
CCC,s3,Garage,6,7,Yes,x,y,z,,50.0
DDD,s4,Garage,6,7,Yes,x,y,z,c000 30.00 40.00;c001 9.00 3.00,50.0
"""


def _localize_reference(rows, submission):
    """Charades_v1_localize.m in NumPy: 25 points (j-1)/25·length per video, gt when
    start <= t <= end, predictions -inf when missing, THUMOSeventclspr per class (stable sort of
    -conf, AP = Σ prec at positives / npos: NaN without positives; MATLAB's mean would then be
    NaN, so the mean here is over the classes with positives)."""
    classes = 3
    gt, conf = [], []
    for video, length, actions in rows:
        for j in range(1, 26):
            t = (j - 1) * length / 25
            labels = np.zeros(classes)
            for c, start, end in actions:
                if start <= t <= end:
                    labels[c] = 1
            gt.append(labels)
            conf.append(submission.get(video, {}).get(j, np.full(classes, -np.inf)))
    gt, conf = np.array(gt), np.array(conf)
    aps = []
    for c in range(classes):
        order = np.argsort(-conf[:, c], kind="stable")
        tp = np.cumsum(gt[order, c] == 1)
        fp = np.cumsum(gt[order, c] != 1)
        npos = (gt[:, c] == 1).sum()
        prec = tp / (fp + tp)
        aps.append(prec[gt[order, c] == 1].sum() / npos if npos else np.nan)
    return aps, np.nanmean(aps)


def test_the_csv_becomes_annotations(tmp_path):
    path = tmp_path / "Charades_v1_test.csv"
    path.write_text(CSV)
    annotations, skipped = charades_annotations(path, "test")
    database = annotations["database"]
    assert skipped == 1  # DDD's c001 ends before it starts
    assert database["AAA"] == {
        "subset": "test",
        "duration": 25.0,
        "annotations": [
            {"label": "c000", "segment": [0.0, 10.0]},
            {"label": "c001", "segment": [12.0, 20.0]},
        ],
    }
    assert database["CCC"]["annotations"] == []


@pytest.mark.parametrize(
    "row, message",
    [
        ("EEE,s,k,6,7,Yes,x,y,z,c000 1 2,abc", "line 6, field 'length': not a number: 'abc'"),
        ("EEE,s,k,6,7,Yes,x,y,z,c000 1 2,0", "line 6, field 'length': must be > 0"),
        ("EEE,s,k,6,7,Yes,x,y,z,kick 1 2,5", "line 6, field 'actions' ('kick 1 2')"),
        ("EEE,s,k,6,7,Yes,x,y,z,c000 1 nan,5", "line 6, field 'actions' ('c000 1 nan')"),
        (",s,k,6,7,Yes,x,y,z,c000 1 2,5", "line 6, field 'id': empty"),
        ("AAA,s,k,6,7,Yes,x,y,z,c000 1 2,5", "video 'AAA' appears twice"),
    ],
)
def test_a_malformed_row_names_file_line_and_field(tmp_path, row, message):
    path = tmp_path / "bad.csv"
    path.write_text(CSV + row + "\n")
    expected = f"bad.csv, {message}" if "line" in message else message
    with pytest.raises(DataError, match=re.escape(expected)):
        charades_annotations(path, "test")


def test_a_csv_without_the_columns_is_named(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match=r"other.csv: no column \['id', 'length', 'actions'\]"):
        charades_annotations(path, "test")


def test_submission_round_trip_and_errors(tmp_path):
    scores = {"v": np.arange(75, dtype=float).reshape(25, 3) / 100}
    path = tmp_path / "points.txt"
    write_charades_submission(path, scores)
    read, classes = read_charades_submission(path)
    assert classes == ["c000", "c001", "c002"]
    np.testing.assert_allclose(read["v"], scores["v"])
    lines = path.read_text().splitlines()
    cases = [
        (lines[:-1], "video 'v' has no line for frames \\[25\\]"),
        (lines + [lines[0]], "line 26: video 'v' frame 1 appears twice"),
        ([lines[0].replace("v 1 ", "v 26 ")], "line 1, field 'frame': expected 1..25, got '26'"),
        ([lines[0], lines[1] + " 0.5"], "line 2, field 'scores': 4 scores, earlier lines 3"),
        ([lines[0].replace(" 0.01", " x")], "line 1, field 'scores': not a number: 'x'"),
    ]
    for content, message in cases:
        path.write_text("\n".join(content) + "\n")
        with pytest.raises(DataError, match=message):
            read_charades_submission(path)


def test_evaluate_protocol_charades_equals_the_reference(tmp_path, capsys):
    csv_path = tmp_path / "Charades_v1_test.csv"
    csv_path.write_text(CSV)
    rng = np.random.default_rng(3)
    # AAA and BBB scored; CCC and DDD missing from the submission (their points rank last);
    # class c002 has no positive anywhere.
    submission = {v: {j: rng.random(3) for j in range(1, 26)} for v in ("AAA", "BBB")}
    points = tmp_path / "points.txt"
    points.write_text(
        "".join(
            f"{v} {j} " + " ".join(f"{s:.6f}" for s in row) + "\n"
            for v, frames in submission.items()
            for j, row in frames.items()
        )
    )
    rounded = {
        v: {j: np.round(row, 6) for j, row in frames.items()} for v, frames in submission.items()
    }
    rows = [
        ("AAA", 25.0, [(0, 0.0, 10.0), (1, 12.0, 20.0)]),
        ("BBB", 10.0, [(1, 0.0, 5.0)]),
        ("CCC", 50.0, []),
        ("DDD", 50.0, [(0, 30.0, 40.0)]),  # its c001 9.00 3.00 has no time point
    ]
    aps, expected = _localize_reference(rows, rounded)
    assert np.isnan(aps[2])
    status = main(["evaluate", "--ground-truth", str(csv_path), "--predictions", str(points),
                   "--protocol", "charades", "--subset", "test", "--json"])  # fmt: skip
    assert status == 0
    captured = capsys.readouterr()
    printed = json.loads(captured.out)
    assert printed["mAP"] == pytest.approx(expected)
    assert printed["per_class_AP"] == {
        "c000": pytest.approx(aps[0]),
        "c001": pytest.approx(aps[1]),
    }
    assert "2 videos of" in captured.err and "have no scores" in captured.err
    assert "1 actions end before they start" in captured.err
