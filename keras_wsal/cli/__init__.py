"""The `keras-wsal` command line.

Each subcommand lives in its own module `keras_wsal.cli.<name>` that defines:

- `HELP`: one line for `keras-wsal --help`;
- `DESCRIPTION`: the subcommand's `--help` text, with examples;
- `add_arguments(parser)`: its flags (heavy imports belong in `run`, not at module level);
- `run(args) -> int`: the work; returns the exit status.

Bad user input (a missing file, a malformed dataset, a bad flag) ends with a one-line reason on
stderr and a non-zero exit status, never a Python traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from keras_wsal.errors import KerasWsalError
from keras_wsal.version import __version__

SUBCOMMANDS = ("demo", "extract", "train", "detect", "evaluate", "plot", "export")


def _available_subcommands() -> dict:
    modules = {}
    for name in SUBCOMMANDS:
        try:
            modules[name] = importlib.import_module(f"keras_wsal.cli.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"keras_wsal.cli.{name}":
                raise
    return modules


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `keras-wsal` with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="keras-wsal",
        description=(
            "Weakly supervised action recognition and temporal action detection in untrimmed "
            "videos (UntrimmedNet, WSGN)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"keras-wsal {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in _available_subcommands().items():
        sub = subparsers.add_parser(
            name,
            help=module.HELP,
            description=module.DESCRIPTION,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `keras-wsal` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except (KerasWsalError, FileNotFoundError, NotADirectoryError, IsADirectoryError) as error:
        print(f"keras-wsal {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"keras-wsal {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
