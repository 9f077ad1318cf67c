"""The backbones by name and the two streams' input channels and dropout, as plain data.

Read by the command line to list its choices without loading Keras; the networks themselves are
built by `keras_wsal.backbones.factory` and `keras_wsal.backbones.tsn`.
"""

# name: (keras.applications constructor, imagenet_utils preprocessing mode, extra arguments).
APPLICATIONS = {
    "resnet50": ("ResNet50", "caffe", {}),
    "resnet101": ("ResNet101", "caffe", {}),
    "inception_v3": ("InceptionV3", "tf", {}),
    "mobilenet_v2": ("MobileNetV2", "tf", {}),
    "mobilenet_v3_small": ("MobileNetV3Small", "tf", {"include_preprocessing": False}),
    "mobilenet_v3_large": ("MobileNetV3Large", "tf", {"include_preprocessing": False}),
}
BACKBONES = ("bn_inception", *APPLICATIONS)

# Dropout before the classifier of each stream (UntrimmedNet §5.1).
STREAM_DROPOUT = {"rgb": 0.8, "flow": 0.7}
# Input channels: one RGB frame, or a stack of 5 flows (x and y).
STREAM_CHANNELS = {"rgb": 3, "flow": 10}
