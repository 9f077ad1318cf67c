import json
import runpy
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "export_and_serve.py"


def test_export_and_serve_tutorial_runs_and_answers_the_request(tmp_path, capsys):
    main = runpy.run_path(str(EXAMPLE))["main"]
    assert main(["--out", str(tmp_path), "--epochs", "1"]) == 0
    printed = capsys.readouterr().out
    assert "signature 'detect'" in printed and "equal keras_wsal's own outputs" in printed
    request = json.loads((tmp_path / "request.json").read_text())
    assert request["signature_name"] == "detect" and set(request["instances"][0]) == {
        "features",
        "length",
    }
    prediction = json.loads((tmp_path / "response.json").read_text())["predictions"][0]
    assert set(prediction) >= {"video_scores", "start", "end", "score", "class", "label", "count"}
    assert len(prediction["start"]) == 5 and 0 <= prediction["count"] <= 5
    assert (tmp_path / "saved_models" / "wsgn" / "1" / "saved_model.pb").exists()
