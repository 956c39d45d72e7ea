"""Clusters of a set of images (k-means or spectral) or 2D points: labels found without labels, for the unconditional GANs.

An unconditional GAN on a multi-class set like MNIST must make one continuous map from noise cover
ten separate kinds of digit. Early in training it draws some kinds far more often than others and
many samples fall between kinds (a 4 half-way to a 9). Grouping the training images into clusters
first, and letting G and D see the cluster (a conditional GAN on the clusters), splits that job
into many small ones. No label is used: the clusters come from k-means on the pixels. This is the
idea of cluster-conditioned GANs (Sage et al. 2018, "Logo synthesis and manipulation with
clustered GANs"; Liu et al. 2020, "Diverse image generation via self-conditioned GANs");
bench/bench_time_to_digits.py measures what it buys.

Two ways to find the clusters of images (``CLUSTER_METHODS``):
- "kmeans": k-means on 2x average-pooled pixels (14x14 for MNIST): as pure as full resolution and
  four times cheaper, but a cluster mixes kinds that overlap in pixels (4s and 9s, 3s, 5s and 8s):
  71% of each cluster's images share a digit at k = 20, 80% at k = 50.
- "spectral": spectral clustering (Ng, Jordan & Weiss 2002) of the images' nearest-neighbour graph
  (10 neighbours, locally scaled weights: Zelnik-Manor & Perona 2004), on deskewed pixels (the slant
  of each image sheared away, from its second moments, as in LeCun et al. 1998). Following the
  neighbours of neighbours separates kinds that no single centre does: 95% of each cluster shares a
  digit at k = 20 on the bundled MNIST (82% without deskewing). Still no label is read.

2D points are clustered as they are, and their number of clusters can be chosen from the data
(``choose_k``, by the silhouette score): the ring of 8 Gaussians gets 8 clusters, the grid 25.
Then each cluster's G only has to make one tight blob, which plain GANs on these toys take tens
of seconds to learn (bench/bench_2d_convergence.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

MIN_IMAGES_PER_CLUSTER = 20  # fewer images than this per cluster, and k is lowered
FIT_IMAGES = 10_000  # the centres are fitted on at most this many images (all are assigned)
FIT_POINTS = 2_000  # 2D: the centres are fitted on this many points drawn from the distribution
AUTO_K_RANGE = (2, 32)  # 2D: the numbers of clusters "auto" chooses from
SILHOUETTE_POINTS = 1_000  # the silhouette score is measured on at most this many of the points
CLUSTER_METHODS = {"kmeans": "k-means", "spectral": "spectral"}  # method: how people call it
GRAPH_NEIGHBOURS = 10  # spectral: each image's edges to its nearest images


@dataclass
class Clusters:
    centres: torch.Tensor  # (k, features) float32
    assignments: torch.Tensor  # (N,) int64: the cluster of every image
    prior: list[float]  # the share of the images in each cluster: how often G draws it

    @property
    def k(self) -> int:
        return len(self.prior)


def cluster_features(images: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) uint8 or float images -> (N, F) float32 features: pooled pixels in [0, 1]."""
    x = images.float()
    if images.dtype == torch.uint8:
        x = x / 255
    if x.shape[-1] >= 16:
        x = F.avg_pool2d(x, 2)
    return x.flatten(1)


def method_name(method: str | None) -> str:
    """How the UI and the model cards call a cluster method (runs saved before it existed used k-means)."""
    return CLUSTER_METHODS.get(method or "kmeans", str(method))


def effective_k(requested: int, n_images: int) -> int:
    """The number of clusters used for ``n_images`` (0 = too few images to cluster)."""
    k = min(requested, n_images // MIN_IMAGES_PER_CLUSTER)
    return k if k >= 2 else 0


def kmeans(features: torch.Tensor, k: int, *, seed: int = 0, iterations: int = 25) -> torch.Tensor:
    """Centres (k, F) by k-means++ seeding (Arthur & Vassilvitskii 2007) and Lloyd's iterations."""
    if not 1 <= k <= len(features):
        raise ValueError(f"k must be between 1 and the number of points ({len(features)}); got {k}")
    rng = torch.Generator().manual_seed(seed)
    centres = features[torch.randint(len(features), (1,), generator=rng)]
    nearest = torch.cdist(features, centres).squeeze(1) ** 2
    for _ in range(k - 1):
        # Each next centre is drawn with probability proportional to its squared distance.
        pick = torch.multinomial(nearest / nearest.sum() if nearest.sum() > 0 else torch.ones_like(nearest), 1, generator=rng)
        centres = torch.cat([centres, features[pick]])
        nearest = torch.minimum(nearest, ((features - features[pick]) ** 2).sum(1))
    for _ in range(iterations):
        assignment = torch.cdist(features, centres).argmin(1)
        counts = torch.bincount(assignment, minlength=k).unsqueeze(1)
        moved = torch.where(counts > 0, _means(features, assignment, k), centres)  # an empty cluster keeps its centre
        if torch.allclose(moved, centres):
            break
        centres = moved
    return centres


def assign(features: torch.Tensor, centres: torch.Tensor, chunk: int = 8192) -> torch.Tensor:
    return torch.cat([torch.cdist(features[i : i + chunk], centres).argmin(1) for i in range(0, len(features), chunk)])


def silhouette(distances: torch.Tensor, assignment: torch.Tensor, k: int) -> float:
    """The mean silhouette (Rousseeuw 1987) of a clustering, from the points' pairwise ``distances``: for
    each point, how much nearer it is to its own cluster than to the next nearest one, from -1 (wrong
    cluster) to 1 (tight, well-separated clusters)."""
    onehot = torch.nn.functional.one_hot(assignment, k).to(distances.dtype)
    counts = onehot.sum(0)
    totals = distances @ onehot  # (N, k): summed distance from each point to each cluster
    own_count = counts[assignment]
    own = totals.gather(1, assignment[:, None]).squeeze(1) / (own_count - 1).clamp_min(1)
    mean_to = totals / counts.clamp_min(1)
    mean_to[onehot.bool()] = torch.inf  # not its own cluster
    mean_to[:, counts == 0] = torch.inf  # nor an empty one
    nearest_other = mean_to.min(1).values
    score = (nearest_other - own) / torch.maximum(own, nearest_other).clamp_min(1e-12)
    score[own_count <= 1] = 0.0  # a point alone in its cluster scores 0 by definition
    return float(score.mean())


def choose_k(points: torch.Tensor, *, seed: int = 0, k_range: tuple[int, int] = AUTO_K_RANGE) -> int:
    """The number of k-means clusters of ``points`` with the best silhouette score in ``k_range``
    (0 when the range is empty)."""
    rng = torch.Generator().manual_seed(seed)
    if len(points) > SILHOUETTE_POINTS:
        points = points[torch.randperm(len(points), generator=rng)[:SILHOUETTE_POINTS]]
    points = points.float().cpu()
    distances = torch.cdist(points, points)
    low, high = k_range[0], min(k_range[1], len(points) - 1)
    scores = {k: silhouette(distances, assign(points, kmeans(points, k, seed=seed)), k) for k in range(low, high + 1)}
    # Ties (to 0.001) go to fewer clusters.
    return max(scores, key=lambda k: (round(scores[k], 3), -k)) if scores else 0


def cluster_points(points: torch.Tensor, k: int, *, seed: int = 0, restarts: int = 10) -> Clusters:
    """Group 2D ``points`` (N, 2) into ``k`` clusters; the prior is each cluster's share of them.

    The best (least squared distance) of ``restarts`` k-means runs: a single run left a centre between
    two modes of the grid of 25 for one of the first four seeds, and that cluster's G had to split in two."""
    centres, assignments = _best_kmeans(points.float().cpu(), k, seed=seed, restarts=restarts)
    return _clusters(centres, assignments)


def _clusters(centres: torch.Tensor, assignments: torch.Tensor) -> Clusters:
    counts = torch.bincount(assignments, minlength=len(centres)).double()
    # An empty cluster gets a share of 0: G is never asked for a cluster it never saw.
    prior = (counts / counts.sum()).tolist()
    return Clusters(centres=centres, assignments=assignments, prior=prior)


def cluster_images(images: torch.Tensor, k: int, *, seed: int = 0, method: str = "kmeans") -> Clusters:
    """Group ``images`` (N, C, H, W) into ``k`` clusters; deterministic for a seed (on the CPU).

    The centres are the mean features of each cluster's images in both methods."""
    if method not in CLUSTER_METHODS:
        raise ValueError(f"cluster method must be one of {', '.join(CLUSTER_METHODS)}; got {method!r}")
    if method == "spectral":
        features = cluster_features(deskew(images.cpu()))
        _, assignments = _best_kmeans(spectral_embedding(features, k, seed=seed), k, seed=seed)
        return _clusters(_means(features, assignments, k), assignments)
    features = cluster_features(images.cpu())
    rng = torch.Generator().manual_seed(seed)
    fit = features if len(features) <= FIT_IMAGES else features[torch.randperm(len(features), generator=rng)[:FIT_IMAGES]]
    centres = kmeans(fit, k, seed=seed)
    return _clusters(centres, assign(features, centres))


def deskew(images: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) images -> float images in [0, 1], each sheared so its ink's principal axis is vertical
    and its centre of mass is in the middle: handwriting's slant, the largest variation within a digit,
    taken away (LeCun et al. 1998). Computed on the first channel; blank images are left as they are."""
    x = images.float()
    if images.dtype == torch.uint8:
        x = x / 255
    n, _, h, w = x.shape
    ink = x[:, 0]
    mass = ink.sum((1, 2))
    total = mass.clamp_min(1e-6)
    ys = torch.arange(h, dtype=x.dtype)[None, :, None]
    xs = torch.arange(w, dtype=x.dtype)[None, None, :]
    mean_y = (ink * ys).sum((1, 2)) / total
    mean_x = (ink * xs).sum((1, 2)) / total
    var_y = (ink * (ys - mean_y[:, None, None]) ** 2).sum((1, 2)) / total
    cov_xy = (ink * (ys - mean_y[:, None, None]) * (xs - mean_x[:, None, None])).sum((1, 2)) / total
    slant = torch.where(var_y > 1e-6, cov_xy / var_y.clamp_min(1e-6), torch.zeros_like(var_y))
    # affine_grid maps each output position (x, y in [-1, 1]) to the input position it reads.
    theta = torch.zeros(n, 2, 3, dtype=x.dtype)
    theta[:, 0, 0] = 1
    theta[:, 0, 1] = slant * h / w
    theta[:, 0, 2] = 2 * (mean_x - (w - 1) / 2) / w
    theta[:, 1, 1] = 1
    theta[:, 1, 2] = 2 * (mean_y - (h - 1) / 2) / h
    theta[mass <= 0] = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]], dtype=x.dtype)  # blank: left as it is
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def nearest_neighbours(features: torch.Tensor, neighbours: int, chunk: int = 2048) -> tuple[torch.Tensor, torch.Tensor]:
    """Distances and indices (N, neighbours) of each row's nearest other rows, ``chunk`` rows at a time
    (the whole distance matrix of 60,000 images would take 14 GB)."""
    distances, indices = [], []
    for start in range(0, len(features), chunk):
        d = torch.cdist(features[start : start + chunk], features)
        rows = torch.arange(len(d))
        d[rows, rows + start] = math.inf  # not its own neighbour
        values, index = d.topk(neighbours, dim=1, largest=False)
        distances.append(values)
        indices.append(index)
    return torch.cat(distances), torch.cat(indices)


def spectral_embedding(features: torch.Tensor, dims: int, *, neighbours: int = GRAPH_NEIGHBOURS, seed: int = 0) -> torch.Tensor:
    """(N, dims) coordinates of the leading eigenvectors of the nearest-neighbour graph's normalised
    affinity D^-1/2 A D^-1/2 (Ng, Jordan & Weiss 2002), each row scaled to unit length."""
    import scipy.sparse as sparse
    from scipy.sparse.linalg import eigsh

    n = len(features)
    neighbours = min(neighbours, n - 1)
    if not 1 <= dims < n:
        raise ValueError(f"the embedding needs 1..{n - 1} dimensions for {n} images; got {dims}")
    distances, indices = nearest_neighbours(features.float(), neighbours)
    scale = distances[:, -1].clamp_min(1e-6)  # each image's own scale: its farthest neighbour
    weights = torch.exp(-(distances**2) / (scale[:, None] * scale[indices]))
    rows = np.repeat(np.arange(n), neighbours)
    affinity = sparse.csr_matrix((weights.flatten().double().numpy(), (rows, indices.flatten().numpy())), shape=(n, n))
    affinity = affinity.maximum(affinity.T)  # an edge when either image is among the other's neighbours
    inverse_root = sparse.diags(1 / np.sqrt(np.asarray(affinity.sum(1)).ravel()))
    start = np.random.default_rng(seed).random(n)  # eigsh's start vector: the same clusters for a seed
    _, vectors = eigsh(inverse_root @ affinity @ inverse_root, k=dims, which="LA", v0=start)
    embedding = torch.from_numpy(np.ascontiguousarray(vectors)).float()
    return embedding / embedding.norm(dim=1, keepdim=True).clamp_min(1e-12)


def _best_kmeans(features: torch.Tensor, k: int, *, seed: int = 0, restarts: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """Centres and assignments of the best (least squared distance) of ``restarts`` k-means runs."""
    best, best_cost = None, math.inf
    for restart in range(restarts):
        centres = kmeans(features, k, seed=seed * restarts + restart)
        assignments = assign(features, centres)
        cost = float(((features - centres[assignments]) ** 2).sum())
        if cost < best_cost:
            best, best_cost = (centres, assignments), cost
    return best


def _means(features: torch.Tensor, assignments: torch.Tensor, k: int) -> torch.Tensor:
    """(k, F): each cluster's mean feature (zeros for an empty cluster)."""
    sums = features.new_zeros(k, features.shape[1]).index_add_(0, assignments, features)
    return sums / torch.bincount(assignments, minlength=k).clamp_min(1).unsqueeze(1).to(features.dtype)
