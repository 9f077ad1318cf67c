"""The command-line names of the models (`keras-wsal train --model NAME`, `build_model(NAME)`)."""

MODEL_NAMES = ("untrimmednet-hard", "untrimmednet-soft", "wsgn", "naive", "wtalc", "supervised")

# WSGN's frame-selection norms each model uses unless told otherwise: the complete WSGN; none for
# the frame-supervised ceiling, whose frame labels already say which snippets count (with the
# selection g it measured 4–5 mAP@0.5 lower; README, "Results"); none for the rest.
DEFAULT_NORMS = {"wsgn": ("zloc", "gloc", "sloc")}


def default_norms(model: str) -> tuple[str, ...]:
    """The norms `model` (a name of `MODEL_NAMES`) uses by default."""
    return DEFAULT_NORMS.get(model, ())
