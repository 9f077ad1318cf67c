"""Per-snippet outputs files and the one-video picture."""

import numpy as np
import pytest

from keras_wsal.errors import DataError
from keras_wsal.formats.snippet_outputs import load_snippet_outputs, save_snippet_outputs
from keras_wsal.plotting import plot_video

GROUND_TRUTH = [
    {"label": "A", "segment": [2.0, 4.0]},
    {"label": "Ambiguous", "segment": [6.0, 6.5]},
    {"label": "B", "segment": [5.0, 7.5]},
]
DETECTIONS = [
    {"label": "A", "score": 0.9, "segment": [2.0, 4.0]},
    {"label": "B", "score": 0.3, "segment": [4.5, 8.0]},
]


def _curves(num_snippets=40):
    scores = np.full((num_snippets, 2), 0.05, dtype=np.float32)
    scores[8:16, 0] = 0.9
    scores[20:30, 1] = 0.7
    selection = np.full((num_snippets, 1), 1e-5, dtype=np.float32)
    selection[8:30] = 0.04
    return scores, selection


def test_snippet_outputs_round_trip(tmp_path):
    scores, selection = _curves()
    path = save_snippet_outputs(
        tmp_path / "snippets" / "v1.npz", scores, selection, 4.0, ["A", "B"]
    )
    loaded = load_snippet_outputs(path)
    np.testing.assert_array_equal(loaded.snippet_scores, scores)
    np.testing.assert_array_equal(loaded.selection, selection)
    assert loaded.feature_fps == 4.0 and loaded.classes == ("A", "B")
    with np.load(path, allow_pickle=False) as archive:  # the documented format, no pickle
        assert sorted(archive.files) == ["classes", "feature_fps", "selection", "snippet_scores"]
        assert archive["classes"].dtype.kind == "U" and archive["feature_fps"].shape == ()


def test_snippet_outputs_errors(tmp_path):
    scores, selection = _curves()
    with pytest.raises(DataError, match="expected 2 class names"):
        save_snippet_outputs(tmp_path / "v.npz", scores, selection, 4.0, ["A"])
    with pytest.raises(DataError, match="snippet_scores holds NaN"):
        save_snippet_outputs(
            tmp_path / "v.npz", np.full((3, 2), np.nan), np.ones((3, 1)), 4.0, ["A", "B"]
        )
    assert not any(tmp_path.iterdir())  # nothing written
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(DataError, match="junk.npz: not a readable .npz file"):
        load_snippet_outputs(tmp_path / "junk.npz")
    np.savez(tmp_path / "partial.npz", snippet_scores=scores)
    with pytest.raises(
        DataError, match=r"partial.npz: missing arrays \['selection', 'feature_fps', 'classes'\]"
    ):
        load_snippet_outputs(tmp_path / "partial.npz")
    with pytest.raises(FileNotFoundError, match="absent.npz does not exist"):
        load_snippet_outputs(tmp_path / "absent.npz")


def test_plot_png_and_svg(tmp_path):
    scores, selection = _curves()
    png = plot_video(
        tmp_path / "v.png", "v", GROUND_TRUTH, DETECTIONS, scores, selection, 4.0, ["A", "B"]
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = plot_video(
        tmp_path / "v.svg", "v", GROUND_TRUTH, DETECTIONS, scores, selection, 4.0, ["A", "B"]
    )
    text = svg.read_text()
    assert "<svg" in text and "A GT" in text and "B det" in text and "Ambiguous" in text
    assert "selection" in text and "time (s)" in text
    per_class = plot_video(
        tmp_path / "per_class.svg",
        "v",
        GROUND_TRUTH,
        DETECTIONS,
        scores,
        scores,
        4.0,
        ["A", "B"],
        ["B"],
    )
    text = per_class.read_text()
    assert "B selection" in text and "A GT" not in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["per_class.svg", "v.png", "v.svg"]


def test_plot_segments_only(tmp_path):
    path = plot_video(
        tmp_path / "seg.svg", "v", GROUND_TRUTH, [], None, None, None, None, duration=10.0
    )
    assert "A GT" in path.read_text()


def test_plot_errors(tmp_path):
    scores, selection = _curves()
    with pytest.raises(ValueError, match="must end with .png or .svg"):
        plot_video(
            tmp_path / "v.jpg", "v", GROUND_TRUTH, DETECTIONS, scores, selection, 4.0, ["A", "B"]
        )
    with pytest.raises(DataError, match="video 'v': snippet_scores holds NaN"):
        plot_video(tmp_path / "v.png", "v", [], [], np.full((3, 2), np.nan), None, 4.0, ["A", "B"])
    with pytest.raises(DataError, match=r"video 'v', detections\[0\]: start 3.0 is after end 1.0"):
        plot_video(
            tmp_path / "v.png",
            "v",
            [],
            [{"label": "A", "score": 1.0, "segment": [3.0, 1.0]}],
            None,
            None,
            None,
            None,
        )
    with pytest.raises(DataError, match=r"video 'v', ground_truth_segments\[0\]: expected"):
        plot_video(tmp_path / "v.png", "v", [{"segment": [0, 1]}], [], None, None, None, None)
    with pytest.raises(ValueError, match="need feature_fps and classes"):
        plot_video(tmp_path / "v.png", "v", [], [], scores, None, None, None)
    assert not any(tmp_path.iterdir())


def test_the_title_names_what_made_the_detections(tmp_path):
    scores, selection = _curves()
    svg = plot_video(
        tmp_path / "t.svg", "v", GROUND_TRUTH, DETECTIONS, scores, selection, 4.0, ["A", "B"],
        title="runs/wsgn (wsgn rule)",
    )  # fmt: skip
    assert "v · runs/wsgn (wsgn rule)" in svg.read_text()
