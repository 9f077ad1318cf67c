"""`keras-wsal plot`: one picture from a dataset, a result file and saved per-snippet outputs."""

import json

import numpy as np
import pytest

from keras_wsal.cli import main
from keras_wsal.formats.snippet_outputs import save_snippet_outputs


@pytest.fixture
def dataset(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    annotations = {
        "database": {
            "v1": {
                "subset": "test",
                "duration": 10.0,
                "annotations": [
                    {"label": "A", "segment": [2.0, 4.0]},
                    {"label": "Ambiguous", "segment": [8, 9]},
                ],
            }
        }
    }
    (data / "annotations.json").write_text(json.dumps(annotations))
    results = {
        "results": {
            "v1": [
                {"label": "A", "score": 0.9, "segment": [2.0, 4.0]},
                {"label": "A", "score": 0.1, "segment": [6.0, 7.0]},
            ]
        }
    }
    (tmp_path / "results.json").write_text(json.dumps(results))
    scores = np.full((40, 1), 0.1)
    scores[8:16] = 0.9
    save_snippet_outputs(
        tmp_path / "snippets" / "v1.npz", scores, np.ones((40, 1)) / 40, 4.0, ["A"]
    )
    return tmp_path


def test_plot_with_everything(dataset, capsys):
    out = dataset / "v1.svg"
    argv = [
        "plot",
        "--data",
        str(dataset / "data"),
        "--video",
        "v1",
        "--results",
        str(dataset / "results.json"),
        "--snippets",
        str(dataset / "snippets"),
        "--min-score",
        "0.5",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    text = out.read_text()
    assert "A GT" in text and "A det" in text and "A score" in text and "selection" in text
    assert text.count("<path") > 5


def test_plot_png_from_one_npz(dataset):
    out = dataset / "v1.png"
    argv = [
        "plot",
        "--data",
        str(dataset / "data"),
        "--video",
        "v1",
        "--snippets",
        str(dataset / "snippets" / "v1.npz"),
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_unknown_video_and_missing_snippets(dataset, capsys):
    base = ["plot", "--data", str(dataset / "data"), "--out", str(dataset / "x.png")]
    assert main([*base, "--video", "v9"]) == 2
    assert "keras-wsal plot: error: " in capsys.readouterr().err
    (dataset / "snippets" / "v1.npz").unlink()
    assert main([*base, "--video", "v1", "--snippets", str(dataset / "snippets")]) == 2
    assert "v1.npz does not exist" in capsys.readouterr().err
    assert (
        main(
            [
                "plot",
                "--data",
                str(dataset / "nowhere"),
                "--video",
                "v1",
                "--out",
                str(dataset / "x.png"),
            ]
        )
        == 2
    )
    assert "annotations.json does not exist" in capsys.readouterr().err
    assert not (dataset / "x.png").exists()


def test_bad_output_extension(dataset, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "plot",
                "--data",
                str(dataset / "data"),
                "--video",
                "v1",
                "--out",
                str(dataset / "x.jpg"),
            ]
        )
    assert exit_info.value.code == 2
    assert "the picture must end with .png or .svg" in capsys.readouterr().err
