"""`keras-wsal fuse`: one model from runs trained on one stream each (UntrimmedNet §5.2)."""

from __future__ import annotations

import argparse

HELP = "fuse runs trained on one stream each (--stream rgb, --stream flow) into one model"
DESCRIPTION = """\
UntrimmedNet trains its RGB and flow streams apart, each with its own schedule, and averages
their outputs at test time. Train one run per stream with `keras-wsal train --stream`, then fuse
them: RUN_DIR gets one late-fusion model (a head per stream holding that run's weights), its
classes and config, and `detect`, `export` and `evaluate` use it as any run.

examples:
  keras-wsal train --data thumos14 --subset validation --model untrimmednet-soft \\
      --recipe paper --stream rgb --out runs/unet_rgb
  keras-wsal train --data thumos14 --subset validation --model untrimmednet-soft \\
      --recipe paper --stream flow --out runs/unet_flow
  keras-wsal fuse runs/unet_rgb runs/unet_flow --out runs/unet_two_stream
"""

NEEDS_BACKEND = True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "runs", nargs="+", metavar="RUN", help="run folders of `keras-wsal train --stream S`"
    )
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="the fused run folder")


def run(args) -> int:
    import dataclasses
    import json
    from pathlib import Path

    from keras_wsal.errors import DataError
    from keras_wsal.models import fuse_streams
    from keras_wsal.training.config import TrainConfig
    from keras_wsal.training.run_folder import (
        CLASSES_FILE,
        CONFIG_FILE,
        FEATURES_FILE,
        MODEL_FILE,
        load_run_model,
        save_atomically,
    )
    from keras_wsal.utils.atomic_files import atomic_write_text, check_output_location

    if len(args.runs) < 2:
        raise DataError(f"fuse: give two or more runs to fuse; received {len(args.runs)}")
    out = check_output_location(args.out, folder=True)
    if out.exists() and any(out.iterdir()):
        raise DataError(f"--out {out}: the folder is not empty; give a new folder")
    models, classes = [], None
    for run_dir in args.runs:
        model, run_classes = load_run_model(run_dir)
        if classes is not None and run_classes != classes:
            raise DataError(f"{run_dir}: its classes differ from those of {args.runs[0]}")
        classes = run_classes
        models.append(model)
    try:
        fused = fuse_streams(models)
    except ValueError as error:
        raise DataError(str(error)) from None
    out.mkdir(parents=True, exist_ok=True)
    first_run = Path(args.runs[0])
    if classes is not None:
        atomic_write_text(out / CLASSES_FILE, json.dumps(classes, indent=1) + "\n")
    if (first_run / CONFIG_FILE).is_file():
        # The fused run reads every stream of the first run's dataset.
        config = TrainConfig.load(first_run)
        dataclasses.replace(config, stream=None, out=str(out.resolve())).save(out)
    if (first_run / FEATURES_FILE).is_file():
        atomic_write_text(out / FEATURES_FILE, (first_run / FEATURES_FILE).read_text())
    save_atomically(out, {MODEL_FILE: fused.save})
    print(f"fused {', '.join(fused.streams)} → {out / MODEL_FILE}")
    return 0
