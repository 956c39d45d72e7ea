"""``ganlab evaluate``: every metric for a checkpoint or for images in files, beside the real reference."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from ganlab.cli.arguments import UsageError, positive_int

log = logging.getLogger("ganlab")


def add_command(commands: Any, common: argparse.ArgumentParser) -> None:
    evaluate = commands.add_parser(
        "evaluate",
        help="measure a checkpoint or a set of images against real data",
        parents=[common],
        epilog="See docs/EVALUATION.md.",
        description="Prints every metric for the generated images beside the same metric "
        "for held-out real data against training data (what a perfect generator scores).",
    )
    evaluate.add_argument(
        "checkpoint",
        metavar="SOURCE",
        help="a generator checkpoint (folder or shipped name), a .npz written by 'sample', or a folder or .zip of images",
    )
    evaluate.add_argument(
        "--against",
        metavar="NAME_OR_PATH",
        help="images only: the real data, a dataset name "
        "(mnist, fashion-mnist) or a folder, .zip or .npz of real images (default: the dataset of "
        "--classifier, or for 28x28 .npz images the dataset they are nearest to)",
    )
    evaluate.add_argument(
        "--classifier",
        metavar="PATH_OR_NAME",
        help="images only: the domain classifier whose "
        "features the metrics use, e.g. one from scripts/train_classifier.py --data-folder "
        "(default: the dataset's shipped classifier)",
    )
    evaluate.add_argument(
        "--features",
        choices=["classifier", "inception"],
        help="images only: 'inception' uses "
        "Inception-v3 ImageNet features (torchvision's weights, downloaded once; the default for "
        "images that are not a named dataset's)",
    )
    evaluate.add_argument("--n", type=positive_int, default=10000, help="samples (capped by the held-out set)")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ganlab.metrics.evaluate import evaluate_checkpoint, evaluate_files

    source = args.checkpoint
    is_checkpoint = _is_checkpoint(source)
    _check_source(source, is_checkpoint, args)
    bar = tqdm(total=100, unit="%", file=sys.stderr, disable=None, bar_format="{l_bar}{bar}| {desc}")

    def progress(fraction: float, message: str) -> None:
        bar.n = round(100 * fraction)
        bar.set_description_str(message)
        bar.refresh()
        log.debug("%3d%% %s", bar.n, message)

    try:
        if is_checkpoint:
            report = evaluate_checkpoint(source, n=args.n, seed=args.seed, progress=progress)
        else:
            report = evaluate_files(
                source,
                args.against,
                classifier=args.classifier,
                features=args.features,
                n=args.n,
                seed=args.seed,
                progress=progress,
            )
    finally:
        bar.close()
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.to_table())
    return 0


def _check_source(source: str, is_checkpoint: bool, args: argparse.Namespace) -> None:
    """Images-only flags are not for a checkpoint, and images must exist."""
    image_flags = [
        flag
        for flag, value in (("--against", args.against), ("--classifier", args.classifier), ("--features", args.features))
        if value is not None
    ]
    if is_checkpoint and image_flags:
        raise UsageError(
            f"{', '.join(image_flags)}: only for images in files (a .npz, a folder or .zip); a checkpoint is "
            "compared with the dataset it was trained on"
        )
    if not is_checkpoint and not Path(source).exists():
        from ganlab.checkpoints import shipped_checkpoints

        raise FileNotFoundError(
            f"nothing to evaluate at {source!r}: give a checkpoint folder or a shipped name "
            f"({', '.join(shipped_checkpoints()) or 'none'}), a .npz written by 'ganlab sample', "
            "or a folder or .zip of images"
        )


def _is_checkpoint(source: str) -> bool:
    """A checkpoint folder (it has config.json) or a shipped name, rather than images."""
    from ganlab.checkpoints import CONFIG_FILE, CheckpointError, resolve_checkpoint

    try:
        return (resolve_checkpoint(source) / CONFIG_FILE).is_file()
    except CheckpointError:
        return False
