"""``ganlab sample``: draw samples from a generator checkpoint into a .png grid and a .npz of arrays."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from ganlab.cli.arguments import DEVICES, UsageError, positive_int

log = logging.getLogger("ganlab")


def add_command(commands: Any, common: argparse.ArgumentParser) -> None:
    sample = commands.add_parser(
        "sample",
        help="draw samples from a generator checkpoint",
        parents=[common],
        description="Writes FILE.png (a grid) and FILE.npz ('images' uint8 (N,H,W) or "
        "(N,H,W,3); 'labels' (N,) for conditional models; 'points' (N,2) for 2D models).",
    )
    sample.add_argument("checkpoint", metavar="CHECKPOINT", help="a checkpoint folder or a shipped name")
    sample.add_argument("--n", type=positive_int, default=64, help="number of samples (default 64)")
    sample.add_argument("--out", required=True, metavar="FILE", help="output name; .png and .npz are written")
    sample.add_argument(
        "--label",
        type=int,
        help="class to generate (conditional models; default: balanced), or "
        "cluster (models on k-means clusters; default: as often as in the data)",
    )
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--device", choices=DEVICES, default="auto")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ganlab.checkpoints import load_model
    from ganlab.device import pick_device
    from ganlab.imaging import make_grid, save_png, to_hwc
    from ganlab.sampling import generate, generate_images

    generator = load_model(args.checkpoint, kind="generator", device=pick_device(args.device))
    log.info("loaded %s: %s", args.checkpoint, generator.checkpoint_path)
    out = Path(args.out)
    base = out.with_suffix("") if out.suffix.lower() in (".png", ".npz") else out
    base.parent.mkdir(parents=True, exist_ok=True)
    k = generator.config.num_classes
    if args.label is not None and not k:
        raise UsageError("--label is only for conditional checkpoints; this generator is unconditional")
    if args.label is not None and not 0 <= args.label < k:
        raise UsageError(f"--label must be between 0 and {k - 1}; got {args.label}")
    if generator.config.is_image:
        images, labels = generate_images(generator, args.n, labels=args.label, seed=args.seed)
        arrays = {"images": to_hwc(images)}
        if labels is not None and generator.config.conditional:  # not clusters: the model is unconditional to users
            arrays["labels"] = labels
        np.savez_compressed(base.with_suffix(".npz"), **arrays)
        by_class = labels is not None and args.label is None and generator.config.conditional
        if by_class:  # sort by class so each row of the grid reads as one class
            images = images[np.argsort(labels, kind="stable")]
        columns = k if by_class and args.n >= k else None
        save_png(make_grid(images[:256], columns=columns), base.with_suffix(".png"))
    else:
        points, _ = generate(generator, args.n, labels=args.label, seed=args.seed)
        np.savez_compressed(base.with_suffix(".npz"), points=points.numpy())
        from ganlab.plots import save_points_figure

        save_points_figure(None, points.numpy(), base.with_suffix(".png"))
    print(f"wrote {base.with_suffix('.png')} and {base.with_suffix('.npz')} ({args.n} samples)", file=sys.stderr)
    return 0
