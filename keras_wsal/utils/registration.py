"""One decorator that makes a keras_wsal class public and serializable.

`keras.saving.register_keras_serializable(package="keras_wsal")` stores the class under
`keras_wsal>ClassName`, so `.keras` files that use it load back with no `custom_objects`.
"""

import keras


def keras_wsal_serializable(cls):
    """Register `cls` as `keras_wsal>{cls.__name__}` for Keras saving and loading."""
    return keras.saving.register_keras_serializable(package="keras_wsal")(cls)
