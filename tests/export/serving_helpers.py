"""Running `serving_client.py` (TensorFlow only, a fresh process) from the export tests."""

import json
import subprocess
import sys
from pathlib import Path

CLIENT = Path(__file__).with_name("serving_client.py")


def ask_serving_client(version_dir, work_dir: Path, expected: dict, requests: list) -> list:
    """Compare `expected` signature outputs in a fresh process and answer `requests` (REST bodies).

    `expected` maps "SIGNATURE/input|output/NAME" to arrays (see serving_client.py). Returns the
    client's responses, one per request, in TF Serving's JSON format.
    """
    import numpy as np

    np.savez(work_dir / "expected.npz", **expected)
    (work_dir / "requests.json").write_text(json.dumps(requests))
    result = subprocess.run(
        [
            sys.executable,
            str(CLIENT),
            str(version_dir),
            "expected.npz",
            "requests.json",
            "responses.json",
        ],
        cwd=work_dir,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0 and result.stdout.strip().endswith("OK"), result.stderr[-3000:]
    return json.loads((work_dir / "responses.json").read_text())


def saved_model_cli_listing(version_dir) -> tuple[dict, str]:
    """`saved_model_cli show --all`, parsed as {signature: {(kind, name): (dtype, shape)}}.

    Returns `(listing, text)`; kind is "inputs" or "outputs".
    """
    import re

    script = Path(sys.executable).with_name("saved_model_cli")
    command = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
    )
    result = subprocess.run(
        [*command, "show", "--all", "--dir", str(version_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    listing = {}
    for block in result.stdout.split("signature_def['")[1:]:
        name = block.split("'", 1)[0]
        tensors = re.findall(
            r"(inputs|outputs)\['(\w+)'\] tensor_info:\s+dtype: (\w+)\s+shape: (.*)", block
        )
        listing[name] = {(kind, key): (dtype, shape.strip()) for kind, key, dtype, shape in tensors}
    return listing, result.stdout
