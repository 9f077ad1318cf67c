"""The command-line names of the models (`keras-wsal train --model NAME`, `build_model(NAME)`)."""

MODEL_NAMES = ("untrimmednet-hard", "untrimmednet-soft", "wsgn", "naive", "wtalc", "supervised")
