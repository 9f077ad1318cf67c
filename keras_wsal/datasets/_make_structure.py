"""Derive `keras_wsal/data/thumos14_structure.json` from the real THUMOS14 validation annotations.

The synthetic generator (`make_synthetic_dataset(temporal_structure="thumos14")`) samples whole
videos from this summary: a video's duration, its action instances' lengths and the classes of each
instance, so that durations, instance counts and lengths and class co-occurrence follow THUMOS14.
Where the instances lie is not kept (the generator places them anew).

Derivation, from an ActivityNet-style THUMOS14 JSON (e.g. ActionFormer's `thumos14.json`):
for each video of subset "Validation" (the 200 videos weakly supervised work trains on), in sorted
order, keep its duration (s, 2 decimals) and one instance per distinct `[start, end]` with the
sorted class indices annotated on it (THUMOS14 annotates every CliffDiving instance as Diving too:
one instance with both classes) and its length `end - start` (s, 1 decimal). "Ambiguous" is dropped.

Run: `python -m keras_wsal.datasets._make_structure PATH/TO/thumos14.json`
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from keras_wsal.datasets._files import AMBIGUOUS

OUTPUT = Path(__file__).resolve().parent.parent / "data" / "thumos14_structure.json"


def summarise(annotations: dict, source_name: str, source_sha256: str) -> dict:
    """The structure summary of the "Validation" videos of a parsed ActivityNet-style JSON."""
    database = annotations["database"]
    videos = sorted(v for v, entry in database.items() if entry["subset"] == "Validation")
    classes = sorted({a["label"] for v in videos for a in database[v]["annotations"]} - {AMBIGUOUS})
    index = {name: c for c, name in enumerate(classes)}
    summary = []
    for video in videos:
        instances = {}
        for annotation in database[video]["annotations"]:
            if annotation["label"] != AMBIGUOUS:
                start, end = annotation["segment"]
                instances.setdefault((start, end), set()).add(index[annotation["label"]])
        summary.append(
            {
                "duration": round(database[video]["duration"], 2),
                "instances": [
                    [round(end - start, 1), sorted(labels)]
                    for (start, end), labels in sorted(instances.items())
                ],
            }
        )
    return {
        "source": f"{source_name} (sha256 {source_sha256}), subset Validation",
        "derivation": "keras_wsal/datasets/_make_structure.py",
        "classes": classes,
        "videos": summary,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("annotations", type=Path, help="THUMOS14 ActivityNet-style JSON")
    args = parser.parse_args()
    data = args.annotations.read_bytes()
    summary = summarise(json.loads(data), args.annotations.name, hashlib.sha256(data).hexdigest())
    OUTPUT.write_text(json.dumps(summary, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes, {len(summary['videos'])} videos)")


if __name__ == "__main__":
    main()
