"""Batches of real data (and their labels or clusters) on the training device, in seeded epochs."""

from __future__ import annotations

from typing import Any

import torch

from ganlab.clusters import Clusters, assign
from ganlab.data.toy import ToyDistribution


class DataStream:
    """Batches of real data (and labels) on the training device."""

    def __init__(
        self, data: ToyDistribution | Any, device: torch.device, generator: torch.Generator, clusters: Clusters | None = None
    ) -> None:
        self.device = device
        self.generator = generator
        self.centres: torch.Tensor | None = None
        if isinstance(data, ToyDistribution):
            self.toy: ToyDistribution | None = data
            self.images = self.labels = None
            self.data_shape: tuple[int, ...] = (2,)
            self.num_classes = 0
            self.class_names: list[str] = []
            if clusters is not None:  # fresh points every batch: each is given its nearest centre's cluster
                self.centres = clusters.centres.to(device)
                self.num_classes = clusters.k
                self.class_names = [f"cluster {c + 1}" for c in range(clusters.k)]
        else:
            self.toy = None
            # Keep the whole set as float on the device: no per-step conversion or copy.
            self.images = data.to_float(device)
            self.labels = data.labels.to(device) if data.labels is not None else None
            self.data_shape = tuple(self.images.shape[1:])
            self.num_classes = len(data.class_names) if data.labels is not None else 0
            self.class_names = list(data.class_names) if data.labels is not None else []
            if clusters is not None:  # the batches carry their cluster in place of a label
                self.labels = clusters.assignments.to(device)
                self.num_classes = clusters.k
                self.class_names = [f"cluster {c + 1}" for c in range(clusters.k)]
            self._order = torch.empty(0, dtype=torch.long)
            self._cursor = 0

    def next_batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.toy is not None:
            points = self.toy.sample(n, generator=self.generator, device=self.device)
            return points, (assign(points, self.centres) if self.centres is not None else None)
        # Epochs of a seeded permutation: every image is seen once per epoch.
        if self._cursor + n > len(self._order):
            self._order = torch.randperm(len(self.images), generator=self.generator)
            self._cursor = 0
        index = self._order[self._cursor : self._cursor + n].to(self.device)
        self._cursor += n
        return self.images[index], (self.labels[index] if self.labels is not None else None)

    def position(self) -> dict[str, torch.Tensor]:
        """Where the stream is (its random state and, for images, the epoch's order and cursor)."""
        position = {"rng": self.generator.get_state()}
        if self.images is not None and len(self._order):
            position.update(order=self._order.contiguous(), cursor=torch.tensor([self._cursor]))
        return position

    def go_to(self, position: dict[str, torch.Tensor]) -> None:
        """Continue from a ``position()``: the batches it would have given next."""
        self.generator.set_state(position["rng"])
        if "order" in position and self.images is not None and len(position["order"]) == len(self.images):
            self._order, self._cursor = position["order"], int(position["cursor"][0])
