"""Train the domain classifier whose features ganlab's image metrics use (FID, KID, IS, ...).

    python scripts/train_classifier.py --dataset mnist --out checkpoints/mnist-classifier
    python scripts/train_classifier.py --dataset fashion-mnist --out checkpoints/fashion-mnist-classifier
    python scripts/train_classifier.py --data-folder shapes/ --out my-classifier   # shapes/circle/*.png, shapes/square/*.png

``--data-folder`` takes a folder or .zip with one subfolder per class (at least two), read as
``ganlab train --data-folder`` reads it (``--image-size``, ``--channels``); a random
``--heldout-share`` of each class becomes the held-out split. ``ganlab evaluate --classifier DIR``
then computes FID, IS, precision/recall, ... on its features.

Trains on the TRAINING split only, with small random affine augmentation (the bundled MNIST train
set has only 8,000 digits), then measures accuracy once on the held-out split and writes
config.json + model.safetensors + a README.md model card. ``--validation N`` keeps N training
images aside and reports accuracy on them every epoch: use it to choose settings, so that the
held-out split is never used for tuning.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from ganlab.checkpoints import save_model  # noqa: E402
from ganlab.data.errors import DataError  # noqa: E402
from ganlab.data.images import ImageDataset, load_image_dataset, load_image_folder  # noqa: E402
from ganlab.data.registry import DATASETS, HELDOUT_DATASETS  # noqa: E402
from ganlab.device import cpu_name  # noqa: E402
from ganlab.metrics.classifier import Classifier, ClassifierConfig, extract, preprocess  # noqa: E402
from ganlab.metrics.conditional import clopper_pearson  # noqa: E402

DEFAULT_EPOCHS = {"mnist": 60, "fashion-mnist": 10, "folder": 20}


def random_affine(x: torch.Tensor, rng: torch.Generator, *, degrees: float, shift: float, scale: float) -> torch.Tensor:
    """Rotate by U(-degrees, degrees), scale by U(1-scale, 1+scale), shift by U(-shift, shift) pixels.

    ``x`` is in [-1, 1] with -1 the background; we sample on x + 1 so that pixels coming in from
    outside the image are background, not grey.
    """
    n, _, h, w = x.shape
    angle = (torch.rand(n, generator=rng) * 2 - 1) * math.radians(degrees)
    zoom = 1 + (torch.rand(n, generator=rng) * 2 - 1) * scale
    # affine_grid works in normalised coordinates where the image spans [-1, 1]: 1 px = 2 / size.
    offset = (torch.rand(n, 2, generator=rng) * 2 - 1) * shift * 2 / torch.tensor([w, h])
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, offset[:, 0]], 1), torch.stack([sin, cos, offset[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, mode="bilinear", padding_mode="zeros", align_corners=False) - 1


@torch.no_grad()
def accuracy(model: Classifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    _, probs = extract(model, images)
    return float((probs.argmax(1) == labels.numpy()).mean())


def load_splits(args: argparse.Namespace) -> tuple[ImageDataset, ImageDataset]:
    """The training and held-out splits: a named dataset's own, or a random split of each class of a folder."""
    if args.dataset:
        return load_image_dataset(args.dataset, "train"), load_image_dataset(args.dataset, "heldout")
    folder = load_image_folder(args.data_folder, size=args.image_size, channels=args.channels)
    if folder.labels is None:
        raise DataError(
            f"{args.data_folder} needs one subfolder per class (at least two, e.g. circle/*.png and "
            "square/*.png) to train a classifier; its images are not sorted into class subfolders"
        )
    rng = torch.Generator().manual_seed(args.seed)
    heldout_idx = []
    for c in range(folder.num_classes):
        members = torch.nonzero(folder.labels == c).flatten()
        members = members[torch.randperm(len(members), generator=rng)]
        heldout_idx.append(members[: round(args.heldout_share * len(members))])
    is_heldout = torch.zeros(len(folder), dtype=torch.bool)
    is_heldout[torch.cat(heldout_idx)] = True
    if is_heldout.all() or not is_heldout.any():
        raise DataError(
            f"{args.data_folder} has too few images ({len(folder)}) to keep a share of "
            f"{args.heldout_share:g} of each class aside; add images or change --heldout-share"
        )
    name = Path(args.data_folder).stem  # the dataset's name in the model card and the evaluation report
    train_set = dataclasses.replace(folder, images=folder.images[~is_heldout], labels=folder.labels[~is_heldout], name=name)
    heldout = dataclasses.replace(
        folder, images=folder.images[is_heldout], labels=folder.labels[is_heldout], name=name, split="heldout"
    )
    return train_set, heldout


def train(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = torch.Generator().manual_seed(args.seed)
    train_set, heldout = load_splits(args)
    print(train_set.describe())
    print(heldout.describe())

    images, labels = train_set.images, train_set.labels
    val_images = val_labels = None
    if args.validation:
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(12345))
        val_idx, train_idx = order[: args.validation], order[args.validation :]
        val_images, val_labels = images[val_idx], labels[val_idx]
        images, labels = images[train_idx], labels[train_idx]
    x_train = preprocess(images, channels=train_set.image_shape[0], size=train_set.image_shape[1])

    config = ClassifierConfig(
        in_channels=train_set.image_shape[0],
        image_size=train_set.image_shape[1],
        num_classes=train_set.num_classes,
        widths=tuple(args.widths),
        convs_per_block=args.convs_per_block,
        feature_dim=args.feature_dim,
        dropout=args.dropout,
        dataset=train_set.name,
        class_names=train_set.class_names,
    )
    model = Classifier(config)
    params = sum(p.numel() for p in model.parameters())
    print(f"classifier: {params:,} parameters, {args.epochs} epochs on {len(x_train):,} images")

    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    steps_per_epoch = math.ceil(len(x_train) / args.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch, pct_start=0.15
    )
    start = time.time()
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(len(x_train), generator=rng)
        total_loss, correct = 0.0, 0
        for i in range(0, len(x_train), args.batch_size):
            idx = order[i : i + args.batch_size]
            x, y = x_train[idx], labels[idx]
            if args.augment:
                x = random_affine(x, rng, degrees=args.rotate, shift=args.shift, scale=args.scale)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total_loss += loss.item() * len(idx)
            correct += int((logits.argmax(1) == y).sum())
        model.eval()
        line = (
            f"epoch {epoch:3d}  loss {total_loss / len(x_train):.4f}  train acc {correct / len(x_train):.4f}"
            f"  {time.time() - start:6.0f}s"
        )
        if val_images is not None:
            line += f"  validation acc {accuracy(model, val_images, val_labels):.4f}"
        print(line, flush=True)
    wall = time.time() - start
    if args.validation:
        # A tuning run: the held-out split stays untouched so that its accuracy remains honest.
        print(f"tuning run finished in {wall:.0f}s; held-out split not evaluated, nothing written")
        return

    model.eval()
    scale = model.calibrate_features(train_set.images)  # training images only, like everything else
    print(f"feature scale {scale:.4g} (mean squared feature on the training images -> 1)")
    _, probs = extract(model, heldout.images)
    predicted = probs.argmax(1)
    truth = heldout.labels.numpy()
    hits = int((predicted == truth).sum())
    acc = hits / len(truth)
    low, high = clopper_pearson(hits, len(truth))
    per_class = {name: float((predicted[truth == c] == c).mean()) for c, name in enumerate(config.class_names)}
    print(f"held-out accuracy {acc:.4f} (95% CI {low:.4f}-{high:.4f}) on {len(truth):,} images; trained in {wall:.0f}s")

    if args.out is None:
        return
    metadata = {
        "dataset": train_set.name,
        "heldout_accuracy": acc,
        "heldout_accuracy_ci95": [low, high],
        "heldout_n": len(truth),
        "train_n": len(x_train),
        "data_source": train_set.source,
        **({"data_folder": str(Path(args.data_folder).resolve())} if args.data_folder else {}),
        "epochs": args.epochs,
        "seed": args.seed,
        "wall_time_s": round(wall, 1),
        "parameters": params,
        "feature_scale": scale,
    }
    out = save_model(model, args.out, metadata=metadata)
    write_model_card(out, args, config, train_set, heldout, params, wall, acc, (low, high), per_class, scale)
    size = (out / "model.safetensors").stat().st_size
    print(f"wrote {out} (weights {size / 1e6:.2f} MB)")


def write_model_card(out, args, config, train_set, heldout, params, wall, acc, ci, per_class, scale) -> None:
    dataset = train_set.name
    title = DATASETS[dataset].title if dataset in HELDOUT_DATASETS else f"'{dataset}' image folder"
    blocks = " -> ".join(f"[{args.convs_per_block} x (conv3x3 {w}, BN, ReLU), maxpool 2]" for w in config.widths)
    command = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0])] + sys.argv[1:])
    split = f"; held-out = a random {args.heldout_share:g} of each class of the folder" if args.data_folder else ""
    per_class_rows = "\n".join(f"| {name} | {value:.4f} |" for name, value in per_class.items())
    augmentation = (
        f"random affine per image: rotation ±{args.rotate:g}°, shift ±{args.shift:g} px, scale ±{args.scale:g}"
        if args.augment
        else "none"
    )
    text = f"""# {title} domain classifier

The feature extractor and label classifier for ganlab's image metrics on {title} (FID, KID,
precision/recall, density/coverage, C2ST on its {config.feature_dim}-d penultimate features; Inception
Score and label accuracy on its class probabilities). See docs/EVALUATION.md.

**Held-out accuracy: {acc:.4f}** (95% Clopper-Pearson interval {ci[0]:.4f}-{ci[1]:.4f}) on the
{len(heldout):,} held-out images, measured once after training; the held-out split was never used
for training or for choosing settings.

## Data
- train: {train_set.describe()}
- held-out: {heldout.describe()}
- trained on the training split only ({len(train_set):,} images){split}
- preprocessing: uint8 pixels -> float in [-1, 1] (`ganlab.metrics.classifier.preprocess`), the same
  path for real and generated images
- augmentation: {augmentation}

## Architecture
`ganlab.metrics.classifier:Classifier`, {params:,} parameters:
input {config.in_channels}x{config.image_size}x{config.image_size} -> {blocks} -> flatten ->
linear {config.feature_dim} (**features**, taken before the ReLU) -> ReLU -> dropout {config.dropout:g} ->
linear {config.num_classes} (logits). The features are multiplied by one constant
(`feature_scale` = {scale:.4g}) so that their mean square on the training images is 1.

## Training
AdamW (lr {args.lr:g}, weight decay {args.weight_decay:g}), one-cycle schedule, batch {args.batch_size},
{args.epochs} epochs, cross-entropy, seed {args.seed}.
Wall time {wall:.0f} s on {machine(args.threads)}.

Command:

    {command}

## Per-class held-out accuracy
| class | accuracy |
|---|---|
{per_class_rows}
"""
    (out / "README.md").write_text(text)


def machine(threads: int) -> str:
    cpu = cpu_name()
    return f"{cpu}, {threads} torch threads ({os.cpu_count()} cores seen, shared), torch {torch.__version__}, {platform.system()}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", choices=HELDOUT_DATASETS)
    source.add_argument("--data-folder", metavar="PATH", help="a folder or .zip of your own images, one subfolder per class")
    parser.add_argument("--image-size", type=int, default=28, help="--data-folder: images are made this size (default 28)")
    parser.add_argument("--channels", type=int, choices=[1, 3], default=1, help="--data-folder: 1 = grayscale, 3 = RGB")
    parser.add_argument(
        "--heldout-share",
        type=float,
        default=0.2,
        help="--data-folder: share of each class kept aside to measure accuracy (default 0.2)",
    )
    parser.add_argument("--out", type=Path, help="checkpoint folder to write (omit for a dry run)")
    parser.add_argument("--epochs", type=int, help="default: 60 for mnist, 10 for fashion-mnist, 20 for a folder")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--widths", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--convs-per-block", type=int, default=2)
    parser.add_argument("--feature-dim", type=int, default=64)
    parser.add_argument("--dropout", type=float, default=0.3)
    parser.add_argument("--no-augment", dest="augment", action="store_false")
    parser.add_argument("--rotate", type=float, default=10.0, help="max rotation in degrees")
    parser.add_argument("--shift", type=float, default=2.0, help="max shift in pixels")
    parser.add_argument("--scale", type=float, default=0.1, help="max relative scale change")
    parser.add_argument(
        "--validation",
        type=int,
        default=0,
        help="keep this many training images aside and report accuracy on them each epoch (a tuning run: "
        "the held-out split is not evaluated and nothing is written)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if args.epochs is None:
        args.epochs = DEFAULT_EPOCHS[args.dataset or "folder"]
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
        parser.error("epochs and batch size must be >= 1 and lr > 0")
    if not 0 < args.heldout_share < 1:
        parser.error(f"--heldout-share must be between 0 and 1; got {args.heldout_share:g}")
    if args.image_size >> len(args.widths) < 1:
        parser.error(
            f"--image-size {args.image_size} is too small for {len(args.widths)} blocks of --widths, each of which halves it"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        train(args)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
