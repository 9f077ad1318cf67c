"""Export a trained detector for TensorFlow Serving and answer a REST request from it.

Teams that put a keras_wsal detector behind TensorFlow Serving need three things, and this
tutorial walks through each:

1. **Export.** `keras-wsal export RUN --out saved_models/NAME` (here
   `keras_wsal.export.export_saved_model`) writes `saved_models/NAME/VERSION/`, the layout
   `tensorflow_model_server --model_base_path=saved_models/NAME` polls. Each export adds the next
   integer version; it is written to a hidden folder and renamed into place, so a server never
   sees half of one. The class names travel inside it (`assets/classes.txt` and the `labels` /
   `class_names` signatures).
2. **A client that only has TensorFlow.** The SavedModel is self-contained: a fresh Python process
   that never imports keras_wsal loads it with `tf.saved_model.load` and runs its signatures.
   This script starts such a process and compares its answer with keras_wsal's own outputs.
3. **The REST body.** `keras_wsal.export.predict_request` builds the JSON of
   `POST http://HOST:8501/v1/models/NAME:predict`; the fresh process answers it in TF Serving's
   response format (`{"predictions": [...]}`), which this script prints.

With TF Serving installed, the same request goes to the real server:

    tensorflow_model_server --port=8500 --rest_api_port=8501 \\
        --model_name=wsgn --model_base_path=$PWD/OUT/saved_models/wsgn
    curl -d @OUT/request.json http://localhost:8501/v1/models/wsgn:predict

Run:

    python examples/export_and_serve.py                    # trains a small WSGN first (~1 minute)
    python examples/export_and_serve.py --run runs/wsgn --data DATASET   # your own run
"""

import argparse
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

# The client runs in a fresh interpreter with keras_wsal made unimportable: only TensorFlow.
CLIENT = textwrap.dedent(
    """
    import json, sys
    sys.modules["keras_wsal"] = None
    import numpy as np
    import tensorflow as tf

    saved_model, request_path, response_path = sys.argv[1:4]
    request = json.load(open(request_path))
    signature = tf.saved_model.load(saved_model).signatures[request["signature_name"]]
    # TF Serving's row format: one object per video; stack each input over the videos.
    names = request["instances"][0].keys()
    specs = signature.structured_input_signature[1]
    instances = request["instances"]
    inputs = {n: tf.constant([i[n] for i in instances], dtype=specs[n].dtype) for n in names}
    outputs = {k: v.numpy() for k, v in signature(**inputs).items()}
    def plain(value):
        value = value.tolist()
        if isinstance(value, bytes):
            return value.decode()
        if isinstance(value, list):
            return [plain(np.asarray(v)) for v in value]
        return value
    predictions = [{k: plain(v[b]) for k, v in outputs.items()} for b in range(len(instances))]
    json.dump({"predictions": predictions}, open(response_path, "w"))
    """
)


def train_small_run(out: Path, epochs: int) -> tuple[Path, Path]:
    """A small WSGN trained on a generated dataset: the run folder and the dataset folder."""
    from keras_wsal.datasets import make_synthetic_dataset
    from keras_wsal.training import TrainConfig, train

    data = out / "dataset"
    if not (data / "meta.json").exists():
        make_synthetic_dataset(data, num_classes=4, subsets={"validation": 24, "test": 6}, seed=0)
    run = out / "runs" / "wsgn"
    config = TrainConfig(
        data=str(data),
        subset="validation",
        model="wsgn",
        out=str(run),
        epochs=epochs,
        batch_size=8,
        learning_rate=1e-3,
    )
    train(config, verbose=0)
    return run, data


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default="serve_output")
    parser.add_argument(
        "--run", default=None, help="a run folder of `keras-wsal train` (default: train one)"
    )
    parser.add_argument("--data", default=None, help="the dataset of --run (for a test video)")
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args(argv)

    from keras_wsal.datasets import FeatureDataset
    from keras_wsal.export import describe_signatures, export_saved_model, predict_request
    from keras_wsal.inference import predict_videos
    from keras_wsal.training import load_run_model

    out = Path(args.out)
    if args.run:
        run, data = Path(args.run), Path(args.data)
    else:
        print("1. training a small WSGN on a generated dataset ...", flush=True)
        run, data = train_small_run(out, args.epochs)

    print("2. exporting for TF Serving ...", flush=True)
    version_dir = export_saved_model(run, out / "saved_models" / "wsgn", max_detections=5)
    print(f"   wrote {version_dir}")
    print(textwrap.indent(describe_signatures(version_dir), "   "))

    dataset = FeatureDataset(data)
    video = dataset.videos("test")[0]
    features = dataset.load_features(video)
    inputs = {stream: features[stream][None].astype("float32") for stream in dataset.streams}
    inputs["length"] = np.array([len(features[dataset.streams[0]])], "int32")
    request = predict_request(inputs, signature_name="detect")
    request_path = out / "request.json"
    request_path.write_text(json.dumps(request))
    print(f"3. the REST request body for video {video} is in {request_path}")

    response_path = out / "response.json"
    subprocess.run(
        [sys.executable, "-c", CLIENT, str(version_dir), str(request_path), str(response_path)],
        check=True,
    )
    response = json.loads(response_path.read_text())
    prediction = response["predictions"][0]
    print("4. the response of a TensorFlow-only process, in TF Serving's format:")
    print(textwrap.indent(json.dumps(prediction, indent=1)[:1500], "   "))

    model, _ = load_run_model(run)
    expected = next(o for o in predict_videos(model, dataset, "test") if o.video == video)
    np.testing.assert_allclose(
        prediction["video_scores"], expected.video_scores, rtol=1e-4, atol=1e-6
    )
    print("   video_scores equal keras_wsal's own outputs.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
