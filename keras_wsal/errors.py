"""Errors keras_wsal raises for bad user input.

Every error names the thing that is wrong (a file, a video, a field or an argument) and what was
expected, so that the command line can print it as one line with no traceback.
"""


class KerasWsalError(Exception):
    """Base class of the errors that describe bad user input (not bugs)."""


class DataError(KerasWsalError, ValueError):
    """A dataset, feature file, annotation file or prediction file is missing or malformed."""


class MissingFileError(DataError, FileNotFoundError):
    """A file keras_wsal was asked to read is missing (a `DataError` and a `FileNotFoundError`)."""


class VideoError(KerasWsalError, ValueError):
    """A video cannot be opened or decoded, or has no usable frames or frame rate."""


class ExportError(KerasWsalError, ValueError):
    """A model cannot be exported, or the export target is not acceptable."""
