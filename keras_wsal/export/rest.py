"""The JSON body of a TensorFlow Serving REST `:predict` request for an exported model.

`POST http://HOST:8501/v1/models/NAME[/versions/VERSION]:predict` takes one of two formats:

- row ("instances"): `{"signature_name": S, "instances": [{"features": [[...], ...],
  "length": T}, ...]}`, one object per video, every video of the same shape (pad them and give
  each its `length`). The response is `{"predictions": [{OUTPUT: value, ...}, ...]}`, one object
  per video (a bare value per video when the signature has one output);
- columnar ("inputs"): `{"signature_name": S, "inputs": {"features": [video, ...], "length":
  [T, ...]}}`. The response is `{"outputs": {OUTPUT: [value per video], ...}}`.

A signature without inputs (`class_names`) cannot be called through REST (TF Serving's JSON
parser refuses an empty input map); REST clients map class indices to names with the `labels`
signature, or read the `label` output of `detect`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def predict_request(
    inputs: Mapping[str, np.ndarray],
    signature_name: str = "serving_default",
    *,
    columnar: bool = False,
) -> dict:
    """A `:predict` request body (a JSON-serialisable dict) for a batch of inputs.

    Args:
        inputs: the signature's inputs by name, each with the batch as its first axis, e.g.
            `{"features": float [B, T, D], "length": int [B]}`.
        signature_name: the signature to run.
        columnar: the "inputs" format instead of the "instances" (row) format.

    Returns:
        `{"signature_name": ..., "instances": [...]}` or `{"signature_name": ..., "inputs": {...}}`.

    Raises:
        ValueError: no inputs, or inputs whose first (batch) axes differ (row format).
    """
    arrays = {name: np.asarray(value) for name, value in inputs.items()}
    if not arrays:
        raise ValueError("inputs: a REST :predict request needs at least one input")
    if columnar:
        return {
            "signature_name": signature_name,
            "inputs": {n: a.tolist() for n, a in arrays.items()},
        }
    sizes = {name: (a.shape[0] if a.ndim else None) for name, a in arrays.items()}
    if None in sizes.values() or len(set(sizes.values())) != 1:
        raise ValueError(
            f"inputs: the row format needs every input to have the same batch size (first axis); "
            f"got {sizes}"
        )
    batch = next(iter(sizes.values()))
    if len(arrays) == 1:
        (array,) = arrays.values()
        instances = array.tolist()
    else:
        instances = [{name: a[row].tolist() for name, a in arrays.items()} for row in range(batch)]
    return {"signature_name": signature_name, "instances": instances}
