"""Checkpoints: a model is "a config plus weights", saved as ``config.json`` + ``model.safetensors``.

The layout follows Hugging Face's ``from_pretrained`` folders. Loading never unpickles: the config
is JSON, the weights are safetensors, and the model class named in the config must live inside the
``ganlab`` package (a checkpoint cannot make us import arbitrary code).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ganlab.paths import SHIPPED_CHECKPOINTS, data_home, from_env

FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
SHIPPED_DIR = SHIPPED_CHECKPOINTS  # the shipped checkpoints, in a checkout or an installed package


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, or does not match its config."""


def save_model(model: nn.Module, directory: str | Path, *, metadata: dict[str, Any] | None = None) -> Path:
    """Write ``directory/config.json`` and ``directory/model.safetensors``; return the directory."""
    config = getattr(model, "config", None)
    kind = getattr(model, "KIND", None)
    if not dataclasses.is_dataclass(config) or kind is None:
        raise TypeError(f"{type(model).__name__} is not savable: it needs a dataclass .config and a KIND")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}
    document = {
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "class": f"{type(model).__module__}:{type(model).__qualname__}",
        "config": dataclasses.asdict(config),
        "metadata": metadata or {},
    }
    # Write to temporary names first so a crash never leaves half a checkpoint under the real names.
    tmp_weights = directory / (WEIGHTS_FILE + ".tmp")
    tmp_config = directory / (CONFIG_FILE + ".tmp")
    save_file(weights, str(tmp_weights))
    tmp_config.write_text(json.dumps(document, indent=2, default=_json_default) + "\n")
    tmp_weights.replace(directory / WEIGHTS_FILE)
    tmp_config.replace(directory / CONFIG_FILE)
    return directory


def _json_default(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in config.json")


def shipped_checkpoints() -> list[str]:
    """Names of the checkpoints shipped in the repository's ``checkpoints/`` folder."""
    if not SHIPPED_DIR.is_dir():
        return []
    return sorted(p.name for p in SHIPPED_DIR.iterdir() if (p / CONFIG_FILE).is_file())


def resolve_checkpoint(path_or_name: str | Path) -> Path:
    """A checkpoint folder from a path, or from the name of a shipped checkpoint."""
    path = Path(path_or_name).expanduser()
    if path.is_dir():
        return path
    if path.is_file() and path.name in (CONFIG_FILE, WEIGHTS_FILE):
        return path.parent
    shipped = SHIPPED_DIR / str(path_or_name)
    if "/" not in str(path_or_name) and shipped.is_dir():
        return shipped
    names = ", ".join(shipped_checkpoints()) or "none"
    raise CheckpointError(
        f"no checkpoint at {str(path_or_name)!r}: give a folder with {CONFIG_FILE} and "
        f"{WEIGHTS_FILE}, or a shipped name ({names})"
    )


def read_config(path_or_name: str | Path) -> dict[str, Any]:
    """The parsed ``config.json`` of a checkpoint, checked for the fields every checkpoint has."""
    file = resolve_checkpoint(path_or_name) / CONFIG_FILE
    if not file.is_file():
        raise CheckpointError(f"{file} is missing: a checkpoint needs {CONFIG_FILE} next to {WEIGHTS_FILE}")
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{file} is not valid JSON ({error}); the checkpoint is corrupt") from None
    if not isinstance(document, dict) or not {"kind", "class", "config"} <= document.keys():
        raise CheckpointError(f"{file} lacks the 'kind', 'class' and 'config' entries of a ganlab checkpoint")
    if document.get("format_version", 1) > FORMAT_VERSION:
        raise CheckpointError(f"{file} was written by a newer ganlab (format {document['format_version']})")
    return document


def _model_class(spec: str, file: Path) -> type[nn.Module]:
    module_name, _, class_name = str(spec).partition(":")
    if not module_name.startswith("ganlab.") or not class_name.isidentifier():
        raise CheckpointError(f"{file} names model class {spec!r}, which is not a ganlab model")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        raise CheckpointError(f"{file} names model class {spec!r}, which does not exist") from None
    if not (isinstance(cls, type) and issubclass(cls, nn.Module) and hasattr(cls, "Config")):
        raise CheckpointError(f"{file} names {spec!r}, which is not a savable ganlab model")
    return cls


def load_model(path_or_name: str | Path, *, device: torch.device | str | None = None, kind: str | None = None) -> nn.Module:
    """Build the model a checkpoint describes and load its weights (eval mode).

    ``kind`` ("generator", "discriminator", "classifier") refuses a checkpoint of another kind.
    """
    folder = resolve_checkpoint(path_or_name)
    document = read_config(folder)
    config_file, weights_file = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    if kind is not None and document["kind"] != kind:
        raise CheckpointError(f"{config_file} holds a {document['kind']}, not a {kind}")
    cls = _model_class(document["class"], config_file)
    try:
        model = cls(cls.Config(**document["config"]))
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{config_file} has an invalid model config: {error}") from None
    if not weights_file.is_file():
        raise CheckpointError(f"{weights_file} is missing")
    try:
        weights = load_file(str(weights_file))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{weights_file} is not a readable safetensors file ({error})") from None
    expected = model.state_dict()
    missing = sorted(expected.keys() - weights.keys())
    unexpected = sorted(weights.keys() - expected.keys())
    wrong = [k for k in expected.keys() & weights.keys() if expected[k].shape != weights[k].shape]
    if missing or unexpected or wrong:
        details = []
        if missing:
            details.append(f"missing {', '.join(missing[:3])}")
        if unexpected:
            details.append(f"unexpected {', '.join(unexpected[:3])}")
        for key in wrong[:3]:
            details.append(f"{key} has shape {tuple(weights[key].shape)} but the config needs {tuple(expected[key].shape)}")
        raise CheckpointError(f"{weights_file} does not match {config_file}: " + "; ".join(details))
    model.load_state_dict(weights)
    model.checkpoint_metadata = document.get("metadata", {})
    model.checkpoint_path = folder
    if device is not None:
        model.to(device)
    return model.eval()


def user_checkpoint_dir() -> Path:
    """Where checkpoints saved from the app live (``GANLAB_CHECKPOINTS``, else the data home's checkpoints/)."""
    return from_env("GANLAB_CHECKPOINTS", data_home() / "checkpoints")


BEST_SHIPPED_GENERATOR = "mnist-cdcgan"  # the one that meets every quality bar (its card): what a newcomer sees first


def preferred_generator(names: list[str]) -> str | None:
    """The generator a picker opens on: the best shipped one when listed, else the first name."""
    return BEST_SHIPPED_GENERATOR if BEST_SHIPPED_GENERATOR in names else (names[0] if names else None)


def available_generators(*, images_only: bool = False, own_folder: Path | None = None) -> dict[str, Path]:
    """Every generator a user can pick: shipped ones by name, then their own saved ones as "mine/<name>"
    (from ``own_folder``: ganlab.owners.private_dir), then the shared saved ones as "saved/<name>".

    ``images_only`` leaves out generators of 2D points (what Explore, Evaluate and the quiz show).
    """

    def wanted(folder: Path) -> bool:
        document = read_config(folder)
        is_image = len(document["config"].get("data_shape", ())) == 3
        return document["kind"] == "generator" and (is_image or not images_only)

    found: dict[str, Path] = {}
    for name in shipped_checkpoints():
        if wanted(SHIPPED_DIR / name):
            found[name] = SHIPPED_DIR / name
    for prefix, saved in (("mine/", own_folder), ("saved/", user_checkpoint_dir())):
        if saved is None or not saved.is_dir():
            continue
        for folder in sorted(saved.iterdir()):
            try:
                if (folder / CONFIG_FILE).is_file() and wanted(folder):
                    found[f"{prefix}{folder.name}"] = folder
            except CheckpointError:
                continue  # a broken folder must not hide the others
    return found
