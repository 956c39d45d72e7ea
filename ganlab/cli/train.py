"""``ganlab train``: train a GAN and save its generator, a resumable run and a preview into --out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ganlab.cli.arguments import DEVICES, UsageError, positive_float, positive_int

# The flags that set a TrainingConfig field of the same name (the rest come from the dataset's defaults).
TRAINING_FLAGS = (
    "lr_g",
    "lr_d",
    "beta1",
    "beta2",
    "batch_size",
    "d_steps",
    "noise_dim",
    "width",
    "d_width",
    "depth",
    "refine",
    "gp_weight",
    "ema_decay",
    "noise_distribution",
    "spectral_norm",
    "minibatch_std",
    "loss",
    "clusters",
    "cluster_method",
    "augment",
)


def add_command(commands: Any, common: argparse.ArgumentParser) -> None:
    from ganlab.config import MODELS
    from ganlab.data.registry import NAMED_DATASETS
    from ganlab.losses import OBJECTIVES

    train = commands.add_parser(
        "train",
        help="train a GAN and save its generator",
        parents=[common],
        description="Train a GAN; writes the generator checkpoint (config.json + "
        "model.safetensors), a resumable run state and samples.png into --out.",
    )
    source = train.add_mutually_exclusive_group()
    source.add_argument(
        "--dataset",
        choices=NAMED_DATASETS,
        default=None,
        help="a 2D toy distribution or an image dataset (default: ring8)",
    )
    source.add_argument("--data-folder", metavar="PATH", help="a folder or .zip of your own images")
    source.add_argument("--points-csv", metavar="PATH", help="a CSV of x,y points (a 2D distribution of your own)")
    train.add_argument(
        "--model",
        choices=MODELS,
        default=None,
        help="mlp (2D default), cdcgan (MNIST and "
        "Fashion-MNIST default; conditional: choose the class), dcgan (image-folder default), cmlp",
    )
    train.add_argument("--loss", choices=list(OBJECTIVES), default=None, help="the GAN objective (default: nonsaturating)")
    length = train.add_mutually_exclusive_group()
    length.add_argument("--steps", type=positive_int, help="number of generator steps")
    length.add_argument("--seconds", type=positive_float, help="train for this much wall time")
    train.add_argument("--seed", type=int, default=None, help="random seed (default 0; runs are reproducible on the CPU)")
    train.add_argument("--out", required=True, metavar="DIR", help="output folder")
    train.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    _hyperparameter_flags(train.add_argument_group("hyperparameters (defaults depend on the dataset)"))
    train.add_argument("--device", choices=DEVICES, default="auto")


def _hyperparameter_flags(hyper: Any) -> None:
    for flag, kind, text in [
        ("--lr-g", float, "generator learning rate"),
        ("--lr-d", float, "discriminator learning rate"),
        ("--beta1", float, "Adam beta1"),
        ("--beta2", float, "Adam beta2"),
        ("--batch-size", int, "batch size"),
        ("--d-steps", int, "D steps per G step"),
        ("--noise-dim", int, "noise dimension"),
        ("--width", int, "model width"),
        ("--d-width", int, "discriminator width (default: --width)"),
        ("--depth", int, "MLP hidden layers"),
        ("--refine", int, "DCGAN: extra 3x3 conv layers per resolution in G (0 = classic)"),
        ("--gp-weight", float, "WGAN-GP lambda"),
        ("--ema-decay", float, "keep an exponential moving average of G's weights (e.g. 0.999; 0 = off)"),
        (
            "--clusters",
            _clusters,
            "unconditional models: train on this many k-means clusters of the data, found "
            "without labels (0 = off; default 50 for dcgan on images, and 'auto' for the 2D "
            "MLP: the number with the best silhouette score)",
        ),
    ]:
        hyper.add_argument(flag, type=kind, help=text)
    hyper.add_argument(
        "--cluster-method",
        choices=["kmeans", "spectral"],  # ganlab.clusters.CLUSTER_METHODS
        help="images: find the clusters by k-means on the pixels (default) or by spectral "
        "clustering of the images' nearest-neighbour graph (purer)",
    )
    hyper.add_argument("--noise-distribution", choices=["normal", "uniform"])
    hyper.add_argument("--spectral-norm", action="store_true", default=None, help="spectral norm in D")
    hyper.add_argument(
        "--minibatch-std",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="DCGAN D sees each group's sample spread (against mode collapse)",
    )
    hyper.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="images: show D randomly shifted and cut-out real and fake images (DiffAugment), "
        "against a D that memorises a small dataset",
    )
    hyper.add_argument("--image-size", type=int, choices=[28, 32], default=28, help="size for --data-folder images")
    hyper.add_argument("--channels", type=int, choices=[1, 3], default=1, help="1 = grayscale, 3 = RGB (--data-folder)")


def _clusters(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of clusters or 'auto'; got {text!r}") from None


def _overrides(args: argparse.Namespace) -> dict:
    """The training settings given on the command line (the rest come from the dataset's defaults)."""
    return {name: value for name in TRAINING_FLAGS if (value := getattr(args, name)) is not None}


def run(args: argparse.Namespace) -> int:
    from ganlab.checkpoints.run import save_run
    from ganlab.device import describe_device

    out = Path(args.out)
    trainer = _trainer(args, out)
    source = getattr(trainer.data, "describe", None)
    print(f"data: {source() if source else trainer.data.description}", file=sys.stderr)
    print(f"device: {describe_device(trainer.device)}", file=sys.stderr)
    event = _train_with_progress(trainer, args)
    save_run(trainer, out)  # with data that has no name to load it by again, for --resume
    _write_preview(trainer, out / "samples.png")
    if event is not None and event.status == "diverged":
        print(f"error: {event.message}", file=sys.stderr)
        print(f"saved the last good weights to {out}", file=sys.stderr)
        return 1
    print(
        f"saved generator checkpoint and samples.png to {out} after {trainer.step_count} steps "
        f"({trainer.wall_time:.1f} s of training)",
        file=sys.stderr,
    )
    return 0


def _trainer(args: argparse.Namespace, out: Path):
    """A new Trainer for the flags given, or the run saved in ``out`` (--resume)."""
    from ganlab.checkpoints import CheckpointError
    from ganlab.data.errors import DataError
    from ganlab.data.toy import from_csv
    from ganlab.presets import default_config
    from ganlab.training import Trainer

    data, dataset = None, args.dataset
    if args.data_folder:
        from ganlab.data.images import load_image_folder

        data, dataset = load_image_folder(args.data_folder, size=args.image_size, channels=args.channels), "folder"
    elif args.points_csv:
        data, dataset = from_csv(args.points_csv), "custom"
    if args.resume:
        return _resume(out, args, data, dataset)
    try:
        config = default_config(
            dataset or "ring8",
            args.model,
            seed=args.seed if args.seed is not None else 0,
            device=args.device,
            **_overrides(args),
        )
        return Trainer(config, data)
    except (DataError, CheckpointError):
        raise
    except ValueError as error:  # TrainingConfig.validate and Trainer: the flags given do not fit
        raise UsageError(str(error)) from None


def _train_with_progress(trainer, args: argparse.Namespace):
    """Train for --steps or --seconds (1,000 steps by default) with a progress bar; the last event, or None.
    Ctrl-C ends the training early, and what was trained so far is kept."""
    from tqdm import tqdm

    steps = args.steps if args.steps or args.seconds else (None if args.seconds else 1000)
    bar = tqdm(total=steps if steps else None, unit="step", dynamic_ncols=True, file=sys.stderr, disable=None)
    event = None
    log_every = max(1, (steps or 1000) // 20)  # without a terminal (a log file), a line per 5%
    try:
        for event in trainer.run(max_steps=steps, max_seconds=args.seconds):
            bar.update(1 if event.status == "running" else 0)
            if event.step % 10 == 0:
                bar.set_postfix(
                    d_loss=f"{event.d_loss:.3f}",
                    g_loss=f"{event.g_loss:.3f}",
                    d_real=f"{event.d_real:.2f}",
                    d_fake=f"{event.d_fake:.2f}",
                    refresh=False,
                )
            if bar.disable and event.step % log_every == 0 and event.status == "running":
                print(
                    f"step {event.step}: d_loss {event.d_loss:.3f} g_loss {event.g_loss:.3f} D(x) {event.d_real:.2f} "
                    f"D(G(z)) {event.d_fake:.2f} ({event.wall_time:.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )
    except KeyboardInterrupt:
        print("\ninterrupted: saving what was trained so far", file=sys.stderr)
    finally:
        bar.close()
    return event


def _resume(out: Path, args: argparse.Namespace, data, dataset: str | None):
    """The run saved in ``out``, with the live hyperparameters given (e.g. a lower learning rate for
    the last steps); anything else given must match the saved run."""
    from ganlab.checkpoints.run import load_run, saved_run_data
    from ganlab.data.registry import NAMED_DATASETS

    if (out / "run.json").is_file():  # else load_run says what the folder lacks
        saved_dataset, saved_data = saved_run_data(out)  # your own images or points come back with the run
        data = data if data is not None else saved_data
        if data is None and saved_dataset not in NAMED_DATASETS:
            own = "--points-csv" if saved_dataset == "custom" else "--data-folder"
            raise UsageError(f"the run in {out} was trained on data of your own: give the same {own} to resume it")
    trainer = load_run(out, data)
    given = {
        **_overrides(args),
        **{
            name: value for name, value in (("dataset", dataset), ("model", args.model), ("seed", args.seed)) if value is not None
        },
    }
    changes = {name: value for name, value in given.items() if value != getattr(trainer.config, name)}
    fixed = sorted(set(changes) - set(trainer.config.LIVE_FIELDS))
    if fixed:
        flags = ", ".join("--" + name.replace("_", "-") for name in fixed)
        raise UsageError(
            f"{flags} cannot change when resuming (the saved run has "
            + ", ".join(f"{name} = {getattr(trainer.config, name)!r}" for name in fixed)
            + "); only "
            + ", ".join("--" + n.replace("_", "-") for n in trainer.config.LIVE_FIELDS if n in TRAINING_FLAGS)
            + " can"
        )
    if changes:
        trainer.update(**changes)
        print("resuming with " + ", ".join(f"{name} = {value}" for name, value in changes.items()), file=sys.stderr)
    return trainer


def _write_preview(trainer, path: Path) -> None:
    from ganlab.imaging import make_grid, save_png, to_uint8

    if trainer.generator.config.is_image:
        save_png(make_grid(to_uint8(trainer.fixed_samples())), path)
    else:
        from ganlab.plots import save_points_figure

        save_points_figure(trainer.data, trainer.sample(2000).numpy(), path)
