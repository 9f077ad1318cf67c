import json

from keras_wsal.cli import main
from keras_wsal.experiments import ablation


def test_demo_runs_the_whole_pipeline_at_a_tiny_size(tmp_path, capsys):
    out = tmp_path / "demo"
    status = main(
        [
            "demo",
            "--out",
            str(out),
            "--steps",
            "4",
            "--videos",
            "12",
            "--variants",
            "Naive,UntrimmedNet soft",
            "--plots",
            "1",
        ]
    )
    assert status == 0
    printed = capsys.readouterr().out
    assert "Naive" in printed and "UntrimmedNet soft" in printed and "video mAP" in printed
    results = json.loads((out / "results.json").read_text())
    assert [r["name"] for r in results] == ["Naive", "UntrimmedNet soft"]
    for result in results:
        assert len(result["mAP"]) == len(ablation.TIOU)
        assert all(0.0 <= m <= 1.0 for m in result["mAP"]) and 0.0 <= result["video_mAP"] <= 1.0
    assert list((out / "runs" / "naive" / "plots").glob("*.png"))
    assert (out / "runs" / "naive" / "model.keras").exists()


def test_demo_rejects_unknown_variants(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--variants", "Naive,Magic"]) == 2
    assert "unknown ['Magic']" in capsys.readouterr().err


def test_table_formatting():
    rows = [ablation.VariantResult("Naive", [0.5] * 7, 0.5, 0.9, "r", "f")]
    table = ablation.format_table(rows).splitlines()
    assert table[0].split()[:2] == ["Method", "0.1"] and table[2].split()[1] == "50.0"
    assert table[2].split()[-1] == "90.0"
