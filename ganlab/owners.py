"""Who owns what on a shared server: a browser's saved runs, and what the teacher shares with the class.

Each browser keeps a random token of its own (in its localStorage, like the quiz's participant token);
the server only ever sees it to map a web session to an owner, and stores nothing but a hash of it.
A person lists, loads, overwrites and downloads only their own saved runs (``mine/<name>``), plus the
shipped checkpoints and what has been published to the class (``saved/<name>``, the shared folder that
the command line also saves into). Publishing is an explicit act that needs the server's admin key
(ganlab.admin), and it copies the generator and the resumable state but never the owner's own
training data (their uploaded images, drawn points or CSV).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
from pathlib import Path

from ganlab.checkpoints import CONFIG_FILE, DATA_FILE, CheckpointError, user_checkpoint_dir
from ganlab.checkpoints.run import is_resumable_run

PRIVATE_FOLDER = ".private"  # under the shared folder; listed by no one (it has no config.json)
MINE, SHARED = "mine/", "saved/"


class OwnershipError(ValueError):
    """Said to the person: something is not theirs, or not there."""


def owner_id(secret: str) -> str:
    """The folder-safe owner id of a browser token (or an API session): a hash, so the token is never on disk."""
    return hashlib.sha256(("ganlab-owner:" + secret).encode("utf-8")).hexdigest()[:24]


def private_dir(owner: str) -> Path:
    return user_checkpoint_dir() / PRIVATE_FOLDER / owner


class SessionOwners:
    """Maps each web session to its owner: the browser's token once the page has sent it, else the session
    itself (an API client owns what it saves in that session)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, str] = {}

    def bind(self, session: str, token: str) -> None:
        if token:
            with self._lock:
                self._tokens[session] = token

    def forget(self, session: str) -> None:
        with self._lock:
            self._tokens.pop(session, None)

    def owner_of(self, session: str) -> str:
        with self._lock:
            token = self._tokens.get(session)
        return owner_id(token) if token else owner_id("session:" + session)

    @property
    def sessions(self) -> int:
        with self._lock:
            return len(self._tokens)


def saved_folders(owner: str | None, *, resumable_only: bool = False) -> dict[str, Path]:
    """The saved checkpoints ``owner`` may use, by label: their own (``mine/<name>``), then the shared
    ones (``saved/<name>``)."""
    found: dict[str, Path] = {}
    roots = ([(MINE, private_dir(owner))] if owner else []) + [(SHARED, user_checkpoint_dir())]
    for prefix, root in roots:
        if not root.is_dir():
            continue
        for folder in sorted(root.iterdir()):
            try:
                if not (folder / CONFIG_FILE).is_file() or (resumable_only and not is_resumable_run(folder)):
                    continue
            except (CheckpointError, OSError, KeyError):
                continue  # a broken folder must not hide the others
            found[prefix + folder.name] = folder
    return found


def resolve(label: str, owner: str | None, *, writable: bool = False) -> Path:
    """The folder of a saved checkpoint by label; refuses another owner's and, for ``writable``, the shared ones."""
    label = str(label or "").strip()
    name = label.removeprefix(MINE).removeprefix(SHARED)
    if label.startswith(SHARED) and not writable:
        folder = user_checkpoint_dir() / name
    elif label.startswith(MINE) or (writable and "/" not in label):
        if not owner:
            raise OwnershipError("this session has no owner yet; reload the page")
        folder = private_dir(owner) / name
    else:
        raise OwnershipError(f"{label!r} is not one of your saved runs; only your own (mine/...) can be changed")
    if "/" in name or name.startswith(".") or not (folder / CONFIG_FILE).is_file():
        raise OwnershipError(f"no saved run named {label!r} among yours or the class's")
    return folder


def publish(owner: str, name: str, *, overwrite: bool = False) -> str:
    """Copy the owner's saved run ``name`` to the shared folder (without their own training data);
    returns its shared label. The caller checks the admin key."""
    source = resolve(MINE + name, owner)
    target = user_checkpoint_dir() / source.name
    if target.exists() and not overwrite:
        raise OwnershipError(f"the class already has a run named {source.name!r}; tick 'overwrite' or rename yours")
    staging = Path(tempfile.mkdtemp(prefix=f".{source.name}-", dir=user_checkpoint_dir()))
    try:
        # G, D, the optimizers and the config; the owner's own data stays theirs.
        shutil.copytree(source, staging, ignore=shutil.ignore_patterns(DATA_FILE), dirs_exist_ok=True)
        if target.exists():
            shutil.rmtree(target)
        staging.replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return SHARED + source.name
