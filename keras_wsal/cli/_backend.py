"""Start the Keras backend for a command, without the backend's start-up log lines.

TensorFlow's C++ code writes several lines to the process's stderr when it is imported and when it
first looks for devices ("All log messages before absl::InitializeLog()", oneDNN, CUDA probing);
`TF_CPP_MIN_LOG_LEVEL` no longer silences them. `start_backend` imports Keras and its backend and
probes the devices with file descriptor 2 pointed at a temporary file, then restores it: the
lines are dropped, or printed after all if the start fails. With `--verbose` nothing is hidden.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile


@contextlib.contextmanager
def _native_stderr_to_file():
    """Route what native code writes to fd 2 into a file; replay it if an exception escapes."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode("utf-8", errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def start_backend(verbose: bool = False) -> None:
    """Import Keras and its backend (and TensorFlow's devices), quietly unless `verbose`."""
    if verbose:
        import keras  # noqa: F401

        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _native_stderr_to_file():
        import keras

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.list_logical_devices()
    try:
        from absl import logging as absl_logging
    except ImportError:  # absl comes with TensorFlow and JAX; other backends may lack it
        return
    absl_logging.set_verbosity(absl_logging.ERROR)
