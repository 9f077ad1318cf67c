"""Clip proposals of untrimmed videos: uniform and shot-based sampling (UntrimmedNet §3.1), from
video frames or from snippet features, and the clips and snippets drawn from them."""

from keras_wsal.proposals.sampling import sample_clips, segment_frames
from keras_wsal.proposals.shots import (
    HOG_SIZE,
    automatic_threshold,
    detect_shots,
    frame_hog,
    hog_differences,
    shot_proposals,
)
from keras_wsal.proposals.snippet_proposals import (
    SNIPPET_PROPOSAL_METHODS,
    clip_snippets_for,
    snippet_proposals,
)
from keras_wsal.proposals.uniform import uniform_proposals

__all__ = [
    "HOG_SIZE",
    "SNIPPET_PROPOSAL_METHODS",
    "clip_snippets_for",
    "sample_clips",
    "segment_frames",
    "snippet_proposals",
    "automatic_threshold",
    "detect_shots",
    "frame_hog",
    "hog_differences",
    "shot_proposals",
    "uniform_proposals",
]
