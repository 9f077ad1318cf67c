"""A client of an exported SavedModel with TensorFlow only, run by the tests in a fresh process.

    python serving_client.py SAVED_MODEL EXPECTED.npz REQUESTS.json RESPONSES.json

keras_wsal is made unimportable first, so everything here works from the SavedModel alone.

1. TF2: `tf.saved_model.load`, then every signature named in EXPECTED.npz (keys
   `SIGNATURE/input/NAME` and `SIGNATURE/output/NAME`) is run on its inputs and its outputs are
   compared with the expected ones (computed by keras_wsal in the parent process).
2. TF Serving's way: the SavedModel is loaded into a TF1 session (the `serve` MetaGraph, its
   variables restored by the saver, as TensorFlow Serving's C++ loader does), the same
   signatures are run by tensor name and compared again; then every REST `:predict` body of
   REQUESTS.json is turned into tensors as TF Serving's JSON API does (row "instances" or
   columnar "inputs", values typed by the signature), run, and answered in TF Serving's response
   format ({"predictions": [...]} or {"outputs": ...}; {"error": message} on failure).
   The responses are written to RESPONSES.json.

Exit status 0 and "OK" on the last line when every comparison holds.
"""

import json
import sys

sys.modules["keras_wsal"] = None  # any import of keras_wsal now raises ImportError

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.core.protobuf import config_pb2  # noqa: E402


def expected_cases(path):
    cases = {}
    with np.load(path, allow_pickle=False) as data:
        for key in data.files:
            signature, kind, name = key.split("/")
            cases.setdefault(signature, {"input": {}, "output": {}})[kind][name] = data[key]
    return cases


def decoded(array):
    """A string tensor's value (bytes objects) as unicode text; other arrays unchanged."""
    array = np.asarray(array)
    if array.dtype == object:
        return np.vectorize(lambda value: value.decode("utf-8"), otypes=[object])(array)
    if array.dtype.kind == "S":
        return np.char.decode(array, "utf-8")
    return array


def assert_close(signature, name, got, expected):
    got = decoded(got)
    if got.dtype == object:
        got = got.astype(str)
    if expected.dtype.kind in "US":
        np.testing.assert_array_equal(got, expected, err_msg=f"{signature}/{name}")
    else:
        assert got.dtype == expected.dtype, (
            f"{signature}/{name}: dtype {got.dtype} != {expected.dtype}"
        )
        np.testing.assert_allclose(
            got, expected, rtol=1e-5, atol=1e-6, err_msg=f"{signature}/{name}"
        )


def check_tf2(saved_model, cases):
    loaded = tf.saved_model.load(saved_model)
    for signature, case in cases.items():
        inputs = {name: tf.constant(value) for name, value in case["input"].items()}
        outputs = loaded.signatures[signature](**inputs)
        assert set(outputs) == set(case["output"]), f"{signature}: outputs {sorted(outputs)}"
        for name, expected in case["output"].items():
            assert_close(signature, name, outputs[name].numpy(), expected)


class Tf1Session:
    """The SavedModel as TensorFlow Serving holds it: a session and the signature defs."""

    def __init__(self, saved_model):
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph)
        with self.graph.as_default():
            meta_graph = tf.compat.v1.saved_model.load(self.session, ["serve"], saved_model)
        self.signatures = meta_graph.signature_def

    def run(self, signature_name, inputs):
        """Feed and fetch by tensor name through the C++ session, as TF Serving's Session::Run.

        (`Session.run` would check the feeds' shapes in Python first; TF Serving does not.)
        """
        signature = self.signatures[signature_name]
        if set(inputs) != set(signature.inputs):
            raise ValueError(
                f"inputs {sorted(inputs)} != signature inputs {sorted(signature.inputs)}"
            )
        names, outputs = sorted(signature.inputs), sorted(signature.outputs)
        options = config_pb2.CallableOptions(
            feed=[signature.inputs[name].name for name in names],
            fetch=[signature.outputs[name].name for name in outputs],
        )
        call = self.session._make_callable_from_options(options)
        return dict(zip(outputs, call(*[inputs[name] for name in names]), strict=True))

    def input_dtype(self, signature_name, name):
        return tf.dtypes.as_dtype(self.signatures[signature_name].inputs[name].dtype).as_numpy_dtype


def check_tf1(session, cases):
    for signature, case in cases.items():
        outputs = session.run(signature, case["input"])
        for name, expected in case["output"].items():
            assert_close(f"tf1 {signature}", name, outputs[name], expected)


def tensors_from_request(session, body):
    """TF Serving's JSON → tensors: values typed by the signature's input dtypes."""
    signature = body.get("signature_name", "serving_default")
    names = sorted(session.signatures[signature].inputs)
    if not names:
        raise ValueError(f"Failed to get input map for signature: {signature}")
    if "instances" in body:
        instances = body["instances"]
        if not isinstance(instances[0], dict):
            instances = [{names[0]: value} for value in instances]
        for row, instance in enumerate(instances):
            if sorted(instance) != names:
                raise ValueError(f"element {row} of 'instances': keys must be equal to {names}")
        columns = {name: [instance[name] for instance in instances] for name in names}
        return (
            signature,
            "row",
            {
                name: np.asarray(values, dtype=session.input_dtype(signature, name))
                for name, values in columns.items()
            },
        )
    values = body["inputs"]
    if not isinstance(values, dict):
        values = {names[0]: values}
    return (
        signature,
        "columnar",
        {
            name: np.asarray(values[name], dtype=session.input_dtype(signature, name))
            for name in names
        },
    )


def json_value(array):
    return decoded(array).tolist()


def respond(session, body):
    """The body TF Serving's REST API answers to a `:predict` request."""
    try:
        signature, layout, inputs = tensors_from_request(session, body)
        outputs = session.run(signature, inputs)
    except (ValueError, KeyError, tf.errors.OpError) as error:
        return {"error": str(error)}
    if layout == "columnar":
        values = {name: json_value(value) for name, value in outputs.items()}
        return {"outputs": values if len(values) > 1 else next(iter(values.values()))}
    batch = {name: np.asarray(value).shape[0] for name, value in outputs.items()}
    if len(set(batch.values())) != 1:
        return {"error": f"inconsistent batch sizes of the outputs: {batch}"}
    rows = next(iter(batch.values()))
    predictions = [
        {name: json_value(value[row]) for name, value in outputs.items()} for row in range(rows)
    ]
    if len(outputs) == 1:
        predictions = [next(iter(p.values())) for p in predictions]
    return {"predictions": predictions}


def main(saved_model, expected_path, requests_path, responses_path):
    cases = expected_cases(expected_path)
    check_tf2(saved_model, cases)
    session = Tf1Session(saved_model)
    check_tf1(session, cases)
    with open(requests_path, encoding="utf-8") as file:
        requests = json.load(file)
    responses = [respond(session, body) for body in requests]
    with open(responses_path, "w", encoding="utf-8") as file:
        json.dump(responses, file)
    assert sys.modules["keras_wsal"] is None
    assert not [name for name in sys.modules if name.startswith("keras_wsal.")]
    print("OK")


if __name__ == "__main__":
    main(*sys.argv[1:5])
