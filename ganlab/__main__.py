"""The command line: ``python -m ganlab {train,sample,evaluate,checkpoints,quiz}`` (or ``ganlab ...``).

This is a stable contract that other tools rely on: flags are only ever added, never renamed.
Errors are printed as one line that says what was wrong, never a traceback (``-vv`` shows it).
Exit status: 0 done, 1 a failure at run time (missing file, unreadable data, no weights),
2 a usage error (argparse's own, or flags that do not fit together), 130 interrupted, 141 the reader of
the output went away (``ganlab checkpoints --json | head -1``: quietly, as a tool that SIGPIPE ends).

Each command lives in its own module of ``ganlab.cli`` (the quiz's in ``ganlab.quiz.cli``); this module
builds the parser from them, sets up logging and turns errors into exit statuses.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from ganlab.cli import checkpoints, evaluate, sample, train
from ganlab.cli.arguments import UsageError, logging_flags

EPILOG = "Run 'python -m ganlab COMMAND --help' for the options of a command."
COMMANDS = {"train": train, "sample": sample, "evaluate": evaluate, "checkpoints": checkpoints}
READER_GONE = 141  # what a shell reports for a command that SIGPIPE ended (128 + 13)
log = logging.getLogger("ganlab")


def build_parser() -> argparse.ArgumentParser:
    from ganlab import __version__
    from ganlab.quiz.cli import add_quiz_commands  # the quiz's own commands: ganlab/quiz/cli.py

    parser = argparse.ArgumentParser(prog="python -m ganlab", description="Train, sample and evaluate GANs.", epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"ganlab {__version__}")
    logging_flags(parser, None)
    common = argparse.ArgumentParser(add_help=False)
    logging_flags(common, argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS.values():
        command.add_command(commands, common)
    add_quiz_commands(commands, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        try:
            return _main(argv)
        finally:
            sys.stdout.flush()  # a reader that went away shows here, not in the interpreter's last flush
    except BrokenPipeError:
        # The usual recipe (Python's docs, "Note on SIGPIPE"): what is left to print goes nowhere, and the
        # interpreter's own flush at exit finds nothing to complain about.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return READER_GONE


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(verbose=args.verbose or 0, quiet=bool(args.quiet))
    try:
        if args.command == "quiz":
            from ganlab.quiz.cli import run_quiz

            return run_quiz(args)
        return COMMANDS[args.command].run(args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the output's reader went away: not an error to report (see main)
        raise
    # DataError, CheckpointError and RunError are ValueErrors; RuntimeError: torch, no Inception weights.
    except (ValueError, OSError, RuntimeError) as error:
        log.debug("the error in full:", exc_info=True)
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def configure_logging(*, verbose: int = 0, quiet: bool = False) -> None:
    """ganlab's loggers at WARNING (the default), INFO (-v), DEBUG (-vv) or ERROR (-q), to stderr.

    Other libraries stay at WARNING (ERROR with -q): -v is about what ganlab does.
    """
    level = logging.ERROR if quiet else {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=logging.ERROR if quiet else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    log.setLevel(level)


if __name__ == "__main__":
    sys.exit(main())
