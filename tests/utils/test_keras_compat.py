"""The private Keras API keras_wsal patches: known on this Keras, and refused loudly otherwise."""

import keras
import pytest

from keras_wsal.utils import keras_compat


def test_the_installed_keras_is_one_the_private_patches_are_known_on():
    first, last = keras_compat.KNOWN_KERAS
    assert keras_compat.is_known_keras(), (
        f"Keras {keras.__version__} is outside {first}-{last}, the versions whose private "
        "keras.Model API keras_wsal.utils.keras_compat patches; check its private names on this "
        "Keras, then move KNOWN_KERAS and setup.py's bound on keras together"
    )


def test_setup_bound_on_keras_is_the_end_of_the_known_range():
    from pathlib import Path

    setup = (Path(__file__).parents[2] / "setup.py").read_text()
    major, minor = keras_compat.KNOWN_KERAS[1]
    assert f'"keras>=3.6,<{major}.{minor + 1}"' in setup


def test_versions_around_the_known_range():
    (first, last) = keras_compat.KNOWN_KERAS
    assert keras_compat.is_known_keras(first) and keras_compat.is_known_keras(last)
    assert not keras_compat.is_known_keras((last[0], last[1] + 1))
    assert not keras_compat.is_known_keras((first[0], first[1] - 1))


def test_a_keras_without_the_private_names_is_refused_with_its_version():
    class Bare:
        pass

    with pytest.raises(
        RuntimeError, match=f"Keras {keras.__version__} has no keras.Model._symbolic"
    ):
        keras_compat.build_from_specs(Bare(), None)
