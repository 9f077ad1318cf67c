"""Clip proposals of untrimmed videos: uniform and shot-based sampling (UntrimmedNet §3.1)."""

from keras_wsal.proposals.shots import (
    HOG_SIZE,
    automatic_threshold,
    detect_shots,
    frame_hog,
    hog_differences,
    shot_proposals,
)
from keras_wsal.proposals.uniform import uniform_proposals

__all__ = [
    "HOG_SIZE",
    "automatic_threshold",
    "detect_shots",
    "frame_hog",
    "hog_differences",
    "shot_proposals",
    "uniform_proposals",
]
