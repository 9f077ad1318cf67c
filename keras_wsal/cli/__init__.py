"""The `keras-wsal` command line.

Each subcommand lives in its own module `keras_wsal.cli.<name>` that defines:

- `HELP`: one line for `keras-wsal --help`;
- `DESCRIPTION`: the subcommand's `--help` text, with examples;
- `add_arguments(parser)`: its flags (heavy imports belong in `run`, not at module level);
- `run(args) -> int`: the work; returns the exit status;
- `NEEDS_BACKEND` (optional, default False): True when `run` uses Keras, which `main` then starts
  before `run` without the backend's start-up log lines (`--verbose` shows them).

Every option's default is shown by `--help`; parsing, `--help` and argument errors import
neither Keras nor TensorFlow.

Bad user input (a missing file, a malformed dataset, a bad flag) ends with a one-line reason on
stderr and a non-zero exit status, never a Python traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from keras_wsal.errors import KerasWsalError
from keras_wsal.version import __version__

SUBCOMMANDS = ("demo", "extract", "train", "fuse", "detect", "evaluate", "plot", "export")


def _available_subcommands() -> dict:
    modules = {}
    for name in SUBCOMMANDS:
        try:
            modules[name] = importlib.import_module(f"keras_wsal.cli.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"keras_wsal.cli.{name}":
                raise
    return modules


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written (they hold examples); every option's default after its help."""

    def _format_action(self, action):
        if _shows_default(action) and "default" not in (action.help or "").lower():
            action.help = f"{action.help or ''} (default: %(default)s)".strip()
        return super()._format_action(action)


def _shows_default(action: argparse.Action) -> bool:
    flag_like = action.nargs == 0  # --quiet, --help, --version: no value to show
    return bool(action.option_strings) and not flag_like and action.default is not None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `keras-wsal` with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="keras-wsal",
        description=(
            "Weakly supervised action recognition and temporal action detection in untrimmed "
            "videos (UntrimmedNet, WSGN)."
        ),
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"keras-wsal {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in _available_subcommands().items():
        sub = subparsers.add_parser(
            name,
            help=module.HELP,
            description=module.DESCRIPTION,
            formatter_class=_HelpFormatter,
        )
        module.add_arguments(sub)
        sub.add_argument(
            "--verbose",
            action="store_true",
            help="also show the Keras backend's own log lines (TensorFlow's start-up messages)",
        )
        sub.set_defaults(_run=module.run, _needs_backend=getattr(module, "NEEDS_BACKEND", False))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `keras-wsal` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args._needs_backend:
            from keras_wsal.cli._backend import start_backend

            start_backend(verbose=args.verbose)
        return int(args._run(args) or 0)
    except (KerasWsalError, FileNotFoundError, NotADirectoryError, IsADirectoryError) as error:
        print(f"keras-wsal {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a user's file or folder the system refused: name it, one line
        where = error.filename if error.filename is not None else "a file"
        print(
            f"keras-wsal {args.command}: error: {where}: {error.strerror or error}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print(f"keras-wsal {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
