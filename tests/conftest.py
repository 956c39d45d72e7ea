"""Shared test settings: never touch the network, keep torch small and deterministic."""

import os

os.environ.setdefault("GANLAB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GANLAB_DEVICE", "cpu")
# Saved runs, quiz databases and pools go to a throw-away data home, never the tester's own.
if "GANLAB_HOME" not in os.environ:
    import atexit
    import shutil
    import tempfile

    os.environ["GANLAB_HOME"] = tempfile.mkdtemp(prefix="ganlab-test-home-")
    atexit.register(shutil.rmtree, os.environ["GANLAB_HOME"], ignore_errors=True)

import torch  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))

# The quiz's database fixtures (tests/postgres.py): `database` runs a test on SQLite and on PostgreSQL.
from postgres import database, postgres_url  # noqa: E402, F401
