"""Helpers every subpackage shares and that belong to none of them.

- `atomic_files`: writing a file so that a reader never sees half of it.
- `registration`: the decorator that registers a class for Keras saving as `keras_wsal>Name`.
- `arguments`: checks of function and constructor arguments with one message style.
"""
