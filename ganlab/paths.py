"""Where ganlab's files live: what ships with it, and what it writes.

Shipped (read only): the pretrained checkpoints and the bundled MNIST subset. In a checkout they are
the repository's ``checkpoints/`` and ``assets/mnist/``; an installed wheel carries the same files in
``ganlab/_shipped/`` (pyproject.toml), so ``pip install .`` works offline from any folder.

Written: everything a person would be sorry to lose (saved runs, the quiz database and its image
pools) lives in one data home, ``$GANLAB_HOME``, else ``$XDG_DATA_HOME/ganlab``, else
``~/.local/share/ganlab``; the app prints it at start. Downloads that can be fetched again (datasets)
go to a cache folder instead. Each has its own, older, variable that still wins when set
(``GANLAB_CHECKPOINTS``, ``GANLAB_QUIZ_DB``, ``GANLAB_QUIZ_POOLS``, ``GANLAB_DATA``).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
_INSTALLED = PACKAGE_DIR / "_shipped"
_CHECKOUT = PACKAGE_DIR.parent

# A wheel's copy first: an installed package must not read a stray folder of the current checkout.
_WHEEL = (_INSTALLED / "checkpoints").is_dir()
SHIPPED_CHECKPOINTS = _INSTALLED / "checkpoints" if _WHEEL else _CHECKOUT / "checkpoints"
BUNDLED_MNIST = (_INSTALLED / "mnist" if _WHEEL else _CHECKOUT / "assets" / "mnist") / "mnist-npm-10k.npz"

HOME_ENV = "GANLAB_HOME"


def data_home() -> Path:
    """The folder for saved runs, the quiz database and its pools (created on first use)."""
    root = os.environ.get(HOME_ENV, "").strip()
    if not root:
        xdg = os.environ.get("XDG_DATA_HOME", "").strip()
        root = str(Path(xdg) / "ganlab") if xdg else str(Path.home() / ".local" / "share" / "ganlab")
    return Path(root).expanduser()


def cache_home() -> Path:
    """The folder for what can be downloaded again (datasets, feature-network weights)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg) if xdg else Path.home() / ".cache") / "ganlab"


def from_env(variable: str, default: Path) -> Path:
    """``$variable`` as a path when it is set and not empty, else ``default``."""
    value = os.environ.get(variable, "").strip()
    return Path(value).expanduser() if value else default
