"""The project's file formats, and the only code that reads or writes them.

* ``model.py``: a model is "a config plus weights" (``config.json`` + ``model.safetensors``), loaded by
  folder or shipped name; never unpickled.
* ``run.py``: a resumable run: the generator checkpoint at the top, the discriminator, the optimizers,
  the clusters, the data stream's position and the person's own data beside it.
"""

from ganlab.checkpoints.model import (
    BEST_SHIPPED_GENERATOR,
    CONFIG_FILE,
    FORMAT_VERSION,
    SHIPPED_DIR,
    WEIGHTS_FILE,
    CheckpointError,
    available_generators,
    load_model,
    preferred_generator,
    read_config,
    resolve_checkpoint,
    save_model,
    shipped_checkpoints,
    user_checkpoint_dir,
)
from ganlab.checkpoints.run import DATA_FILE, RUN_FILE

__all__ = [
    "BEST_SHIPPED_GENERATOR",
    "CONFIG_FILE",
    "DATA_FILE",
    "FORMAT_VERSION",
    "RUN_FILE",
    "SHIPPED_DIR",
    "WEIGHTS_FILE",
    "CheckpointError",
    "available_generators",
    "load_model",
    "preferred_generator",
    "read_config",
    "resolve_checkpoint",
    "save_model",
    "shipped_checkpoints",
    "user_checkpoint_dir",
]
