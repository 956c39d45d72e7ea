"""A resumable run on disk: everything a Trainer needs to continue, and the person's own data.

    run/
      config.json, model.safetensors         the generator (the weight average when the run keeps one):
                                             what ``sample``, Explore and the quiz read
      generator-iterate/                     G's trained iterate (runs with a weight average)
      discriminator/                         D
      optimizer.safetensors                  both optimizers' moments ("opt_g.<param>.<key>")
      clusters.safetensors                   the clusters G and D are conditioned on (if any)
      stream.safetensors                     where the data stream is: a resumed run sees the batches it
                                             would have had next
      run.json                               the TrainingConfig and the counters
      training_data.safetensors              data that has no name to load it by again (drawn points, a
                                             CSV, uploaded images), so that the run can resume

The Trainer itself touches no files: it gives and takes its state as tensors (``state_dict``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from ganlab.checkpoints.model import CheckpointError, load_model, read_config, save_model
from ganlab.clusters import Clusters
from ganlab.data.errors import DataError
from ganlab.data.registry import NAMED_DATASETS
from ganlab.data.toy import ToyDistribution, from_points
from ganlab.training import Trainer, TrainingConfig

RUN_FILE = "run.json"
DATA_FILE = "training_data.safetensors"


def save_run(trainer: Trainer, directory: str | Path, *, with_own_data: bool = True) -> Path:
    """Write ``trainer``'s whole state to ``directory`` (and the person's own data, unless told not to)."""
    directory = Path(directory)
    with trainer.between_moves():
        state = trainer.state_dict()  # first: it refreshes the averaged G's batch-norm statistics
        save_model(trainer.output_generator, directory, metadata=trainer.metadata())
        if trainer.ema_generator is not None:  # the trained iterate, needed to continue the run
            save_model(trainer.generator, directory / "generator-iterate", metadata={"dataset": trainer.config.dataset})
        save_model(trainer.discriminator, directory / "discriminator", metadata={"dataset": trainer.config.dataset})
        tensors: dict[str, torch.Tensor] = {}
        for prefix in ("opt_g", "opt_d"):
            for index, moments in state[prefix]["state"].items():
                for key, value in moments.items():
                    tensors[f"{prefix}.{index}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
        save_file(tensors, str(directory / "optimizer.safetensors"))
        if trainer.clusters is not None:  # the same clusters on resume, whatever k-means would do elsewhere
            clusters = trainer.clusters
            save_file(
                {
                    "centres": clusters.centres.contiguous(),
                    "assignments": clusters.assignments.contiguous(),
                    "prior": torch.tensor(clusters.prior, dtype=torch.float64),
                },
                str(directory / "clusters.safetensors"),
            )
        save_file(state["stream"], str(directory / "stream.safetensors"))
        (directory / RUN_FILE).write_text(json.dumps({"config": state["config"], **state["counters"]}, indent=2) + "\n")
        if with_own_data:
            save_own_data(trainer, directory)
    return directory


def load_run(directory: str | Path, data: ToyDistribution | Any | None = None) -> Trainer:
    """A Trainer that continues the run saved in ``directory`` (``data``: its own data, when not saved with it)."""
    directory = Path(directory)
    run = _read_run(directory)
    try:
        config = TrainingConfig(**run["config"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{directory / RUN_FILE} is corrupt: {error}") from None
    clusters = _load_clusters(directory / "clusters.safetensors") if config.clusters else None
    trainer = Trainer(config, data, clusters=clusters)
    load_run_state(trainer, directory, run)
    return trainer


def load_run_state(trainer: Trainer, directory: str | Path, run: dict[str, Any] | None = None) -> None:
    """Weights, optimizer moments, counters and the data stream's position from a run that ``save_run``
    wrote for this trainer's models (a live run's training process hands its state back this way)."""
    directory = Path(directory)
    run = run if run is not None else _read_run(directory)
    generator = load_model(directory, kind="generator")
    discriminator = load_model(directory / "discriminator", kind="discriminator")
    if generator.config != trainer.generator.config or discriminator.config != trainer.discriminator.config:
        raise CheckpointError(f"{directory} was trained on other data or models than its run.json describes")
    state: dict[str, Any] = {"discriminator": discriminator.state_dict(), "counters": run}
    if trainer.ema_generator is not None:
        state["ema_generator"] = generator.state_dict()
        generator = load_model(directory / "generator-iterate", kind="generator")
    state["generator"] = generator.state_dict()
    optimizer_file = directory / "optimizer.safetensors"
    if optimizer_file.is_file():
        moments: dict[str, dict[int, dict[str, torch.Tensor]]] = {"opt_g": {}, "opt_d": {}}
        for name, value in load_file(str(optimizer_file)).items():
            prefix, index, key = name.split(".", 2)
            moments[prefix].setdefault(int(index), {})[key] = value
        state.update(opt_g={"state": moments["opt_g"]}, opt_d={"state": moments["opt_d"]})
    stream_file = directory / "stream.safetensors"
    if stream_file.is_file():  # runs saved before it was written start a fresh stream
        state["stream"] = load_file(str(stream_file))
    trainer.load_state_dict(state)


def is_resumable_run(directory: str | Path) -> bool:
    return (Path(directory) / RUN_FILE).is_file() and read_config(directory)["kind"] == "generator"


def _read_run(directory: Path) -> dict[str, Any]:
    run_file = directory / RUN_FILE
    if not run_file.is_file():
        raise CheckpointError(f"{run_file} is missing: this folder holds a generator, not a resumable run")
    try:
        return json.loads(run_file.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{run_file} is corrupt: {error}") from None


def _load_clusters(path: Path) -> Clusters | None:
    """The clusters a saved run trained on (None: recompute them, e.g. for runs saved before they were kept)."""
    if not path.is_file():
        return None
    try:
        tensors = load_file(str(path))
        clusters = Clusters(
            centres=tensors["centres"].float(), assignments=tensors["assignments"].long(), prior=tensors["prior"].tolist()
        )
    except Exception as error:  # safetensors raises its own types for a damaged file
        raise CheckpointError(f"{path} is corrupt: {error}") from None
    if clusters.assignments.numel() and (clusters.assignments.min() < 0 or clusters.assignments.max() >= clusters.k):
        raise CheckpointError(f"{path} is corrupt: a cluster number is out of range")
    return clusters


# -- the person's own data -------------------------------------------------------------------------
def save_own_data(trainer: Trainer, directory: Path) -> None:
    """Data that cannot be found again by name (drawn points, a CSV, an uploaded folder) is saved
    with the run, so that loading it can continue training."""
    config, data = trainer.config, trainer.data
    if config.dataset in NAMED_DATASETS:
        return
    if isinstance(data, ToyDistribution):
        points = data.centres if data.centres is not None else data.modes
        save_file(
            {"points": torch.as_tensor(np.asarray(points), dtype=torch.float64)},
            str(directory / DATA_FILE),
            metadata={"kind": "points", "name": data.name},
        )
    else:
        tensors = {"images": data.images.contiguous()}
        if data.labels is not None:
            tensors["labels"] = data.labels.contiguous()
        save_file(
            tensors,
            str(directory / DATA_FILE),
            metadata={"kind": "images", "name": data.name, "class_names": json.dumps(data.class_names)},
        )


def saved_run_data(directory: Path) -> tuple[str, ToyDistribution | Any | None]:
    """The dataset a saved run names, and the person's own data when it was saved with the run
    (None for a named dataset, or for own data saved before runs kept it)."""
    run = _read_run(Path(directory))
    try:
        dataset = run["config"]["dataset"]
    except (KeyError, TypeError) as error:
        raise CheckpointError(f"{Path(directory) / RUN_FILE} is corrupt: {error}") from None
    return dataset, (load_own_data(directory) if (Path(directory) / DATA_FILE).is_file() else None)


def load_own_data(directory: Path) -> ToyDistribution | Any:
    from ganlab.data.images import ImageDataset

    path = Path(directory) / DATA_FILE
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path))
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same message
        raise DataError(f"{path.name} of this run is not readable ({error})") from None
    if metadata.get("kind") == "points" and "points" in tensors:
        return from_points(tensors["points"].numpy(), name=metadata.get("name", "points"))
    if metadata.get("kind") == "images" and "images" in tensors:
        images = tensors["images"]
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise DataError(f"{path.name} of this run holds images of the wrong type or shape")
        return ImageDataset(
            images=images,
            labels=tensors.get("labels"),
            name=metadata.get("name", "folder"),
            split="train",
            source="folder",
            class_names=json.loads(metadata.get("class_names", "[]")),
            location=str(path),
        )
    raise DataError(f"{path.name} of this run does not hold ganlab training data")
