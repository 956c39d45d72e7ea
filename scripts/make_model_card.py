"""Write a shipped generator's model card: checkpoints/<name>/README.md and its sample grids.

    python scripts/make_model_card.py checkpoints/mnist-dcgan --command "python -m ganlab train ..."

It runs the project's own evaluation (``python -m ganlab evaluate``'s code) at the default N,
renders 64 samples (and one row per class for conditional models), and removes the resumable
training state (discriminator, optimizer) so only the generator ships.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from ganlab.checkpoints import load_model  # noqa: E402
from ganlab.clusters import method_name  # noqa: E402
from ganlab.device import cpu_name  # noqa: E402
from ganlab.imaging import make_grid, save_png, upscale  # noqa: E402
from ganlab.metrics.evaluate import evaluate_checkpoint  # noqa: E402
from ganlab.sampling import generate_images  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--command", required=True, help="the command that trained it")
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--notes", default="", help="extra text for the card (what was tried)")
    args = parser.parse_args()
    folder: Path = args.checkpoint
    generator = load_model(folder, kind="generator")
    meta = generator.checkpoint_metadata

    method = method_name(meta.get("training", {}).get("cluster_method"))
    images, _ = generate_images(generator, 64, seed=0)
    save_png(upscale(make_grid(images, columns=8), 2), folder / "samples.png")
    grids = "![64 samples](samples.png)"
    k = generator.config.num_classes
    if generator.config.clustered:
        largest = np.argsort(generator.config.cluster_prior)[::-1][:10]
        labels = np.repeat(largest, 10)
        per_cluster, _ = generate_images(generator, len(labels), labels=labels, seed=1)
        save_png(upscale(make_grid(per_cluster, columns=10), 2), folder / "samples_per_cluster.png")
        grids += (
            f"\n\nOne row per cluster: the 10 largest of the {k} {method} clusters it was trained on "
            "(found without labels):\n\n![10 samples per cluster](samples_per_cluster.png)"
        )
    elif k:
        labels = np.repeat(np.arange(k), 10)
        per_class, _ = generate_images(generator, len(labels), labels=labels, seed=1)
        save_png(upscale(make_grid(per_class, columns=10), 2), folder / "samples_per_class.png")
        grids += "\n\nOne row per class (" + ", ".join(generator.config.class_names) + "):\n\n"
        grids += "![10 samples per class](samples_per_class.png)"

    report = evaluate_checkpoint(folder, n=args.n, seed=0)
    table = ["| metric | generated | real reference (held-out vs train) | n |", "|---|---|---|---|"]
    for row in report.rows:
        arrow = {True: " ↑", False: " ↓", None: ""}[row.higher_is_better]
        table.append(
            f"| {row.metric}{arrow} | {row.generated.format_value() if row.generated else '-'} | "
            f"{row.reference.format_value() if row.reference else '-'} | "
            f"{(row.generated or row.reference).n:,} |"
        )
    notes = "\n".join(f"- {note}" for note in report.notes)
    (folder / "evaluation.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n")

    training = meta.get("training", {})
    name = folder.name
    kind = "an unconditional " if generator.config.clustered else ("a conditional " if k else "a ")
    clusters = (
        (
            f", conditioned on {k} {method} clusters of the images found without labels (sampling draws each "
            "as often as the data has it)"
        )
        if generator.config.clustered
        else ""
    )
    card = f"""# {name}

{kind.capitalize()}{generator.config.arch.upper()} generator trained on {meta.get("dataset")}
({meta.get("data_source")} data, training split only){clusters}. Load it with
`ganlab.checkpoints.load_model("{name}")` or sample it with
`python -m ganlab sample {name} --n 2000 --out s.npz`.

## Training
- Command: `{args.command}`
- Data: {meta.get("dataset")} ({meta.get("data_source")}); see docs/DATA.md for the sources and split.
- Objective: {training.get("loss")}; spectral norm in D: {training.get("spectral_norm")}
- Hyperparameters: lr G {training.get("lr_g")}, lr D {training.get("lr_d")}, Adam betas
  ({training.get("beta1")}, {training.get("beta2")}), batch {training.get("batch_size")}, D steps per G step
  {training.get("d_steps")}, noise {training.get("noise_dim")}-d {training.get("noise_distribution")},
  width {training.get("width")}, seed {training.get("seed")}
- Steps: {meta.get("steps")} generator steps; wall time {meta.get("wall_time_seconds")} s of training on
  {cpu_name()} ({os.cpu_count()} cores, device {meta.get("device")})
- Parameters: {sum(p.numel() for p in generator.parameters()):,} in G

## Evaluation
`python -m ganlab evaluate {name} --n {args.n}` (seed 0):

{chr(10).join(table)}

{notes}

The memorization rows compare the median distance from generated samples to their nearest
training image with that of held-out real images: generated samples must not sit closer to the
training set than unseen real images do.

{args.notes}

## Samples
{grids}
"""
    (folder / "README.md").write_text(card)
    for leftover in (
        "discriminator",
        "generator-iterate",
        "optimizer.safetensors",
        "run.json",
        "clusters.safetensors",
        "stream.safetensors",
    ):
        path = folder / leftover
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    print(report.to_table())


if __name__ == "__main__":
    main()
