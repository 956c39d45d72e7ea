"""``--set key=value`` for the benchmarks: TrainingConfig fields to override in every run they measure."""

from __future__ import annotations

import argparse
import json


def add_set_option(parser: argparse.ArgumentParser, example: str) -> None:
    parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help=f"override TrainingConfig fields in every run, e.g. --set {example}",
    )


def parse_overrides(items: list[str]) -> dict:
    """``["lr_g=2e-3", "loss=hinge"]`` -> ``{"lr_g": 0.002, "loss": "hinge"}``: JSON values where they parse
    (numbers, true/false, null), else the word itself."""
    overrides = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides
