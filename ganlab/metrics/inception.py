"""Inception-v3 features, for images that no shipped domain classifier knows.

FID as papers report it (Heusel et al. 2017) is computed on the 2,048-d pooled features of
Inception-v3 trained on ImageNet. ganlab's own metrics use small domain classifiers instead
(``ganlab.metrics.classifier``), which describe 28x28 digits far better; Inception is for your
own photos, when you have no labelled folder to train a domain classifier on.

The weights are torchvision's ``Inception_V3_Weights.IMAGENET1K_V1`` (104 MB). They are downloaded
once into torch hub's cache (``~/.cache/torch/hub/checkpoints``, or under ``$TORCH_HOME``) and never
downloaded when downloads are off (``GANLAB_OFFLINE=1``). The file is a PyTorch pickle, so it is
read with ``torch.load(weights_only=True)``: tensors only, never code.

These are not the TF-Inception weights of the original FID code (pytorch-fid), and N and the
resizing differ from papers too: compare numbers with each other, not with published ones.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

INPUT_SIZE = 299  # what Inception-v3 was trained on; every image is resized to it
DOWNLOAD_TIMEOUT_S = 30.0


class InceptionUnavailable(RuntimeError):
    """The Inception-v3 weights are not cached and cannot be downloaded now."""


@dataclass
class InceptionConfig:
    """What the evaluation needs to know about a feature extractor (as ``ClassifierConfig`` says it)."""

    dataset: str = "ImageNet Inception-v3"
    feature_dim: int = 2048
    class_names: list[str] = field(default_factory=list)  # the 1,000 ImageNet classes


class InceptionFeatures:
    """Inception-v3 as a feature extractor: uint8 images in, 2,048-d features and class probabilities out."""

    def __init__(self, network: nn.Module, class_names: list[str], device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.head = network.fc  # the ImageNet logits, applied to the features
        network.fc = nn.Identity()  # so that the network itself returns the pooled features
        self.network = network.to(self.device).eval()
        self.head = self.head.to(self.device)
        self.config = InceptionConfig(class_names=list(class_names))

    def preprocess(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 (N, C, H, W) or (N, H, W), any size, 1 or 3 channels -> float (N, 3, 299, 299) in [-1, 1].

        [-1, 1] is what torchvision's ImageNet normalisation turns into inside the network
        (``transform_input``), so the network is built without it and given [-1, 1] directly.
        """
        tensor = torch.as_tensor(images)
        if tensor.dtype != torch.uint8:
            raise ValueError(f"Inception features take uint8 images (0-255); got {tensor.dtype}")
        if tensor.ndim == 3:
            tensor = tensor.unsqueeze(1)
        if tensor.ndim != 4 or tensor.shape[1] not in (1, 3):
            raise ValueError(f"Inception features take images (N, 1 or 3, H, W); got {tuple(tensor.shape)}")
        x = tensor.float().div(127.5).sub(1.0).expand(-1, 3, -1, -1)  # grey -> three equal channels
        return F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False, antialias=True)

    @torch.inference_mode()
    def extract(self, images: np.ndarray | torch.Tensor, *, batch_size: int = 50) -> tuple[np.ndarray, np.ndarray]:
        """Features (N, 2048) and ImageNet class probabilities (N, 1000), both float64."""
        features, probs = [], []
        for start in range(0, len(images), batch_size):
            x = self.preprocess(images[start : start + batch_size]).to(self.device)
            f = self.network(x)
            features.append(f.double().cpu())
            probs.append(torch.softmax(self.head(f).double(), dim=1).cpu())
        if not features:
            return np.zeros((0, self.config.feature_dim)), np.zeros((0, len(self.config.class_names)))
        return torch.cat(features).numpy(), torch.cat(probs).numpy()


def weights_file() -> Path:
    """Where torch hub keeps (or would keep) the Inception-v3 weights."""
    from torchvision.models import Inception_V3_Weights

    url = Inception_V3_Weights.IMAGENET1K_V1.url
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name


def load_inception(*, device: torch.device | str | None = None, download: bool | None = None) -> InceptionFeatures:
    """Inception-v3 with torchvision's ImageNet weights, from the cache or downloaded once.

    Downloads happen when ``download`` is True, or when it is None and ``GANLAB_OFFLINE`` is not 1;
    otherwise a missing file raises InceptionUnavailable, which says how to get it.
    """
    from torchvision.models import Inception_V3_Weights, inception_v3

    from ganlab.data.images import _downloads_allowed
    from ganlab.device import pick_device

    weights = Inception_V3_Weights.IMAGENET1K_V1
    file = weights_file()
    instead = (
        "or pass --classifier DIR, a domain classifier trained on your own labelled images with "
        "`python scripts/train_classifier.py --data-folder PATH --out DIR`"
    )
    if not file.is_file():
        if not _downloads_allowed(download):
            raise InceptionUnavailable(
                f"the Inception-v3 weights are not in {file.parent} and downloads are off (GANLAB_OFFLINE=1): "
                f"fetch {weights.url} once on a machine that is online and put {file.name} there, {instead}"
            )
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # an offline machine fails in seconds, not minutes
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(weights.url, str(file), hash_prefix=file.stem.rsplit("-", 1)[-1])
        except Exception as error:  # noqa: BLE001 - any download failure gets the same advice
            raise InceptionUnavailable(
                f"could not download the Inception-v3 weights from {weights.url} ({type(error).__name__}: {error}); "
                f"put {file.name} in {file.parent} by hand, {instead}"
            ) from None
        finally:
            socket.setdefaulttimeout(previous)
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
        network = inception_v3(weights=None, aux_logits=True, init_weights=False, transform_input=False)
        network.load_state_dict(state)
    except Exception as error:  # noqa: BLE001 - a truncated or foreign file
        raise InceptionUnavailable(
            f"{file} is not a readable Inception-v3 weights file ({type(error).__name__}: {error}); "
            "delete it to download it again"
        ) from None
    return InceptionFeatures(network, weights.meta["categories"], torch.device(device) if device else pick_device())
