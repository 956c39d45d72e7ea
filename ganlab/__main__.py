"""The command line: ``python -m ganlab {train,sample,evaluate,checkpoints}`` (or ``ganlab ...``).

This is a stable contract that other tools rely on: flags are only ever added, never renamed.
Errors are printed as one line that says what was wrong, never a traceback (``-vv`` shows it).
Exit status: 0 done, 1 a failure at run time (missing file, unreadable data, no weights),
2 a usage error (argparse's own, or flags that do not fit together), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

EPILOG = "Run 'python -m ganlab COMMAND --help' for the options of a command."
log = logging.getLogger("ganlab")


class UsageError(ValueError):
    """Flags that do not fit together, found after parsing: exit status 2, as argparse's own errors."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number; got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1; got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number; got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0; got {value}")
    return value


def _logging_flags(parser: argparse.ArgumentParser, default: object) -> None:
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


def build_parser() -> argparse.ArgumentParser:
    from ganlab import __version__
    from ganlab.data.registry import NAMED_DATASETS
    from ganlab.losses import OBJECTIVES
    from ganlab.training import MODELS

    parser = argparse.ArgumentParser(prog="python -m ganlab", description="Train, sample and evaluate GANs.", epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"ganlab {__version__}")
    _logging_flags(parser, None)
    common = argparse.ArgumentParser(add_help=False)
    _logging_flags(common, argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
    length.add_argument("--steps", type=_positive_int, help="number of generator steps")
    length.add_argument("--seconds", type=_positive_float, help="train for this much wall time")
    train.add_argument("--seed", type=int, default=None, help="random seed (default 0; runs are reproducible on the CPU)")
    train.add_argument("--out", required=True, metavar="DIR", help="output folder")
    train.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    hyper = train.add_argument_group("hyperparameters (defaults depend on the dataset)")
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
    train.add_argument("--device", choices=["auto", "cuda", "mps", "cpu"], default="auto")

    sample = commands.add_parser(
        "sample",
        help="draw samples from a generator checkpoint",
        parents=[common],
        description="Writes FILE.png (a grid) and FILE.npz ('images' uint8 (N,H,W) or "
        "(N,H,W,3); 'labels' (N,) for conditional models; 'points' (N,2) for 2D models).",
    )
    sample.add_argument("checkpoint", metavar="CHECKPOINT", help="a checkpoint folder or a shipped name")
    sample.add_argument("--n", type=_positive_int, default=64, help="number of samples (default 64)")
    sample.add_argument("--out", required=True, metavar="FILE", help="output name; .png and .npz are written")
    sample.add_argument(
        "--label",
        type=int,
        help="class to generate (conditional models; default: balanced), or "
        "cluster (models on k-means clusters; default: as often as in the data)",
    )
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--device", choices=["auto", "cuda", "mps", "cpu"], default="auto")

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
    evaluate.add_argument("--n", type=_positive_int, default=10000, help="samples (capped by the held-out set)")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of a table")

    listing = commands.add_parser("checkpoints", help="list the shipped checkpoints", parents=[common])
    listing.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    from ganlab.quiz.cli import add_quiz_commands  # the quiz's own commands: ganlab/quiz/cli.py

    add_quiz_commands(commands, common)
    return parser


def _clusters(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of clusters or 'auto'; got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(verbose=args.verbose or 0, quiet=bool(args.quiet))
    handler = {
        "train": cmd_train,
        "sample": cmd_sample,
        "evaluate": cmd_evaluate,
        "checkpoints": cmd_checkpoints,
        "quiz": cmd_quiz,
    }
    try:
        return handler[args.command](args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
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


def _overrides(args: argparse.Namespace) -> dict:
    """The training settings given on the command line (the rest come from the dataset's defaults)."""
    return {name: value for name in TRAINING_FLAGS if (value := getattr(args, name)) is not None}


def cmd_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ganlab.checkpoints import CheckpointError
    from ganlab.checkpoints.run import save_run
    from ganlab.data.errors import DataError
    from ganlab.data.toy import from_csv
    from ganlab.device import describe_device
    from ganlab.presets import default_config
    from ganlab.training import Trainer

    out = Path(args.out)
    data, dataset = None, args.dataset
    if args.data_folder:
        from ganlab.data.images import load_image_folder

        data, dataset = load_image_folder(args.data_folder, size=args.image_size, channels=args.channels), "folder"
    elif args.points_csv:
        data, dataset = from_csv(args.points_csv), "custom"
    if args.resume:
        trainer = _resume(out, args, data, dataset)
    else:
        try:
            config = default_config(
                dataset or "ring8",
                args.model,
                seed=args.seed if args.seed is not None else 0,
                device=args.device,
                **_overrides(args),
            )
            trainer = Trainer(config, data)
        except (DataError, CheckpointError):
            raise
        except ValueError as error:  # TrainingConfig.validate and Trainer: the flags given do not fit
            raise UsageError(str(error)) from None
    source = getattr(trainer.data, "describe", None)
    print(f"data: {source() if source else trainer.data.description}", file=sys.stderr)
    print(f"device: {describe_device(trainer.device)}", file=sys.stderr)
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


def cmd_sample(args: argparse.Namespace) -> int:
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


def cmd_evaluate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ganlab.metrics.evaluate import evaluate_checkpoint, evaluate_files

    source = args.checkpoint
    is_checkpoint = _is_checkpoint(source)
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


def _is_checkpoint(source: str) -> bool:
    """A checkpoint folder (it has config.json) or a shipped name, rather than images."""
    from ganlab.checkpoints import CONFIG_FILE, CheckpointError, resolve_checkpoint

    try:
        return (resolve_checkpoint(source) / CONFIG_FILE).is_file()
    except CheckpointError:
        return False


def cmd_checkpoints(args: argparse.Namespace) -> int:
    from ganlab.checkpoints import SHIPPED_DIR, read_config, shipped_checkpoints

    rows = []
    for name in shipped_checkpoints():
        document = read_config(name)
        config, metadata = document["config"], document.get("metadata", {})
        generator = document["kind"] == "generator"
        rows.append(
            {
                "name": name,
                "kind": document["kind"],
                "model": config.get("arch") if generator else document["class"].rpartition(":")[2].lower(),
                "dataset": metadata.get("dataset", ""),
                # Generators on k-means clusters have classes too, but they are not the user's to choose.
                "conditional": bool(config.get("num_classes")) and not config.get("cluster_prior") if generator else None,
                "path": str(SHIPPED_DIR / name),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        print(f"{row['name']:28s} {row['kind']:14s} {row['dataset']}")
    return 0


def cmd_quiz(args: argparse.Namespace) -> int:
    from ganlab.quiz.cli import run_quiz

    return run_quiz(args)


if __name__ == "__main__":
    sys.exit(main())
