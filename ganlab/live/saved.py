"""Saving a live run as a resumable checkpoint, downloading it as a .zip, and loading it back.

Saved runs are owned (ganlab.owners): with an ``owner`` a run is saved among that person's own
(``mine/<name>``) and only their own can be downloaded; loading also takes the class's (``saved/<name>``).
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path

from ganlab.checkpoints import CheckpointError, user_checkpoint_dir
from ganlab.checkpoints.run import load_run, save_own_data, save_run, saved_run_data
from ganlab.data.errors import DataError
from ganlab.data.registry import NAMED_DATASETS
from ganlab.live.run import RunError, RunSnapshot, validate_name
from ganlab.owners import OwnershipError, private_dir
from ganlab.owners import resolve as resolve_saved


class SavedRunsMixin:
    """The RunManager's saving and loading."""

    def save(self, key: str, name: str, *, overwrite: bool = False, owner: str | None = None) -> Path:
        """Save the run (resumable: G, D, optimizers, config) as ``name`` among ``owner``'s saved runs
        (ganlab.owners), or in the shared folder (user_checkpoint_dir()) when no owner is given."""
        name = validate_name(name)
        run = self._get(key)
        root = private_dir(owner) if owner else user_checkpoint_dir()
        directory = root / name
        if directory.exists():
            if not overwrite:
                raise RunError(f"a checkpoint named {name!r} already exists; choose another name or tick 'overwrite'")
            if not (directory / "config.json").is_file():
                raise RunError(f"{name!r} exists and is not a ganlab checkpoint; it was left alone")
            shutil.rmtree(directory)
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))  # a crash leaves no half checkpoint
        try:
            # A run training in a worker process is saved there: the server's copy is from its start.
            reply = self._ask(run, {"do": "save", "folder": str(staging)}, timeout=60)
            if reply is None and run.worker is not None:  # no answer, and still training: never save stale weights
                raise RunError("the training process did not save in time; pause the run, then save it")
            if reply is None:  # not training in a worker (or its training ended meanwhile: its state is here)
                save_run(run.trainer, staging, with_own_data=False)
            elif reply.get("error"):
                raise RunError(f"could not save {name!r}: {reply['error']}")
            save_own_data(run.trainer, staging)
            staging.replace(directory)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return directory

    def export_zip(self, key: str, name: str, *, owner: str | None = None) -> Path:
        """A .zip of the saved checkpoint ``name`` (for download): only the owner's own."""
        name = validate_name(name)
        directory = (private_dir(owner) if owner else user_checkpoint_dir()) / name
        if not (directory / "config.json").is_file():
            raise RunError(f"no saved checkpoint named {name!r}")
        run = self._get(key)
        path = self._run_scratch(run) / f"{name}.zip"
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(directory.rglob("*")):
                if file.is_file():
                    archive.write(file, arcname=f"{name}/{file.relative_to(directory).as_posix()}")
        return path

    def load(self, key: str, name: str, *, owner: str | None = None, client: str = "") -> RunSnapshot:
        """Load a run saved with ``save()`` as this session's run (paused, ready to resume). With an
        ``owner``, ``name`` is a label: ``mine/<name>`` (theirs) or ``saved/<name>`` (the class's)."""
        if owner:
            try:
                directory = resolve_saved(name, owner)
            except OwnershipError as error:
                raise RunError(str(error)) from None
            name = directory.name
        else:
            name = validate_name(name)
            directory = user_checkpoint_dir() / name
        run_file = directory / "run.json"
        if not run_file.is_file():
            raise RunError(f"no resumable run named {name!r}")
        dataset, data = saved_run_data(directory)
        if data is None and dataset not in NAMED_DATASETS:
            raise RunError(f"{name!r} was trained on data that was not saved with it ({dataset}); it cannot resume")
        try:
            trainer = load_run(directory, data)
        except (CheckpointError, DataError, ValueError) as error:
            raise RunError(f"cannot load {name!r}: {error}") from None
        return self.create(key, trainer.config, trainer.data, label=f"saved/{name}", trainer=trainer, client=client)
