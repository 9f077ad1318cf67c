"""Video decoding, optical flow, folders of videos and synthetic test videos (feature extraction
from them is `keras_wsal.extraction`)."""

import os

# FFmpeg inside OpenCV logs its own lines to stderr ("moov atom not found") for a video that
# keras_wsal then reports itself, in one line; quiet it unless the user set a level. It is read
# when cv2 loads its FFmpeg backend, so it is set before any module here imports cv2.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")


from keras_wsal.video.files import VIDEO_SUFFIXES, find_videos, shard_videos
from keras_wsal.video.flow import (
    DEFAULT_BOUND,
    DIS_PRESETS,
    FLOW_METHODS,
    STACK_LENGTH,
    FlowPool,
    compute_flow,
    create_flow_estimator,
    dequantize_flow,
    flow_stack,
    flow_stack_indices,
    quantize_flow,
    to_gray,
    video_flows,
)
from keras_wsal.video.reader import (
    BACKENDS,
    Frame,
    VideoReader,
    frames_dataset,
    open_video,
    resize_frame,
)
from keras_wsal.video.synthetic import synthetic_frame, write_synthetic_video

__all__ = [
    "VIDEO_SUFFIXES",
    "find_videos",
    "shard_videos",
    "BACKENDS",
    "DEFAULT_BOUND",
    "DIS_PRESETS",
    "FLOW_METHODS",
    "STACK_LENGTH",
    "FlowPool",
    "Frame",
    "VideoReader",
    "compute_flow",
    "create_flow_estimator",
    "dequantize_flow",
    "flow_stack",
    "flow_stack_indices",
    "frames_dataset",
    "open_video",
    "quantize_flow",
    "resize_frame",
    "synthetic_frame",
    "to_gray",
    "video_flows",
    "write_synthetic_video",
]
