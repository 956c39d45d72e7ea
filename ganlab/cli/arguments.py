"""What the commands share: the usage error, argument types that check numbers, and the -v/-q flags."""

from __future__ import annotations

import argparse

DEVICES = ["auto", "cuda", "mps", "cpu"]


class UsageError(ValueError):
    """Flags that do not fit together, found after parsing: exit status 2, as argparse's own errors."""


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1; got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number; got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0; got {value}")
    return value


def logging_flags(parser: argparse.ArgumentParser, default: object) -> None:
    """-v/-q, given before the command or after it (``default=SUPPRESS`` there, so it keeps the first)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=default,
        help="show what ganlab is doing (-vv: debugging detail and tracebacks)",
    )
    group.add_argument("-q", "--quiet", action="store_true", default=default, help="show errors only")
