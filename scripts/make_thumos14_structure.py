"""Derive `keras_wsal/data/thumos14_structure.json` from the real THUMOS14 annotations.

The synthetic generator (`make_synthetic_dataset(temporal_structure="thumos14")`) samples whole
videos from this summary: a video's duration and its action instances (start, length and the
classes of each instance), so that durations, instance counts, lengths, gaps and class
co-occurrence follow THUMOS14. The generator places instances anew by default and keeps their
real start times with `real_positions=True`.

Derivation, from an ActivityNet-style THUMOS14 JSON (e.g. ActionFormer's `thumos14.json`): for
each video of subset "Validation" (the 200 videos weakly supervised work trains on) and "Test"
(212), in sorted order, keep its duration (s, 2 decimals) and one instance per distinct
`[start, end]` with the sorted class indices annotated on it (THUMOS14 annotates every CliffDiving
instance as Diving too: one instance with both classes), as `[start, length, classes]` (s, 1
decimal); an instance that starts past the video's end is dropped and one that ends past it is cut
at the end. "Ambiguous" is dropped; a test video with nothing else annotated is left out (as is
standard for `video_test_0001292`).

Run from the repository root: `python scripts/make_thumos14_structure.py PATH/TO/thumos14.json`
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from keras_wsal.formats.annotations import AMBIGUOUS

OUTPUT = Path(__file__).resolve().parent.parent / "keras_wsal" / "data" / "thumos14_structure.json"
# THUMOS14 subset name → the name the summary (and the generator) uses.
SUBSETS = {"Validation": "validation", "Test": "test"}


def _summarise_video(entry: dict, index: dict) -> dict:
    duration = round(entry["duration"], 2)
    instances = {}
    for annotation in entry["annotations"]:
        if annotation["label"] == AMBIGUOUS:
            continue
        start, end = annotation["segment"]
        if start >= duration:
            continue
        instances.setdefault((start, min(end, duration)), set()).add(index[annotation["label"]])
    return {
        "duration": duration,
        "instances": [
            [round(start, 1), round(end - start, 1), sorted(labels)]
            for (start, end), labels in sorted(instances.items())
        ],
    }


def summarise(annotations: dict, source_name: str, source_sha256: str) -> dict:
    """The structure summary of the "Validation" and "Test" videos of a parsed ActivityNet JSON."""
    database = annotations["database"]
    classes = sorted(
        {a["label"] for entry in database.values() for a in entry["annotations"]} - {AMBIGUOUS}
    )
    index = {name: c for c, name in enumerate(classes)}
    subsets = {}
    for source, name in SUBSETS.items():
        videos = sorted(v for v, entry in database.items() if entry["subset"] == source)
        summaries = [_summarise_video(database[v], index) for v in videos]
        subsets[name] = [s for s in summaries if s["instances"]]
    return {
        "source": f"{source_name} (sha256 {source_sha256}), subsets Validation and Test",
        "derivation": "scripts/make_thumos14_structure.py",
        "classes": classes,
        "subsets": subsets,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("annotations", type=Path, help="THUMOS14 ActivityNet-style JSON")
    args = parser.parse_args()
    data = args.annotations.read_bytes()
    summary = summarise(json.loads(data), args.annotations.name, hashlib.sha256(data).hexdigest())
    OUTPUT.write_text(json.dumps(summary, separators=(",", ":")) + "\n", encoding="utf-8")
    counts = {name: len(videos) for name, videos in summary["subsets"].items()}
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes, videos {counts})")


if __name__ == "__main__":
    main()
