import numpy as np
import pytest

from ganlab.data import DataError, from_points, make_toy, read_points_csv
from ganlab.data.toy import TOY_DISTRIBUTIONS


def test_ring_and_grid_use_the_published_settings():
    ring = make_toy("ring8")
    assert ring.num_modes == 8 and ring.std == 0.02
    np.testing.assert_allclose(np.linalg.norm(ring.modes, axis=1), 2.0)
    grid = make_toy("grid25")
    assert grid.num_modes == 25 and grid.std == 0.05
    assert sorted(set(grid.modes[:, 0])) == [-4, -2, 0, 2, 4]
    assert sorted(set(grid.modes[:, 1])) == [-4, -2, 0, 2, 4]


@pytest.mark.parametrize("name", list(TOY_DISTRIBUTIONS))
def test_samples_lie_near_their_modes_and_cover_them(name):
    toy = make_toy(name)
    points = toy.sample_numpy(20000, seed=3)
    assert points.shape == (20000, 2) and points.dtype == np.float32
    distance = np.sqrt(((points[:, None] - toy.modes[None]) ** 2).sum(-1))
    nearest = distance.min(1)
    assert (nearest < 3 * toy.std).mean() > 0.98  # ~99.9% of an isotropic 2D Gaussian within 3 std
    if toy.num_modes <= 60:
        assert len(np.unique(distance.argmin(1))) == toy.num_modes
    xmin, xmax, ymin, ymax = toy.bounds()
    assert xmin < points[:, 0].min() and points[:, 0].max() < xmax
    assert ymin < points[:, 1].min() and points[:, 1].max() < ymax


def test_sampling_is_reproducible_by_seed():
    toy = make_toy("grid25")
    np.testing.assert_array_equal(toy.sample_numpy(100, seed=7), toy.sample_numpy(100, seed=7))
    assert not np.array_equal(toy.sample_numpy(100, seed=7), toy.sample_numpy(100, seed=8))


def test_user_points_find_their_clusters():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [5.0, 5.0], [-5.0, 5.0]])
    points = np.concatenate([c + 0.1 * rng.standard_normal((100, 2)) for c in centres])
    toy = from_points(points, max_modes=3)
    found = sorted(map(tuple, np.round(toy.modes)))
    assert found == sorted(map(tuple, centres))
    samples = toy.sample_numpy(500)
    assert np.sqrt(((samples[:, None] - centres[None]) ** 2).sum(-1)).min(1).max() < 1.0


def test_csv_with_header_and_errors(tmp_path):
    good = tmp_path / "points.csv"
    good.write_text("x,y\n1,2\n3.5,-4\n\n0,0\n")
    np.testing.assert_array_equal(read_points_csv(good), [[1, 2], [3.5, -4], [0, 0]])
    np.testing.assert_array_equal(read_points_csv(b"1,2\n3,4\n"), [[1, 2], [3, 4]])
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n3,banana\n")
    with pytest.raises(DataError, match="line 3"):
        read_points_csv(bad)
    with pytest.raises(DataError, match="no x,y points"):
        read_points_csv(b"x,y\n")
    with pytest.raises(DataError, match="at least 2 points"):
        from_points([[1, 2]])
    with pytest.raises(DataError, match="NaN"):
        from_points([[1, 2], [np.nan, 0]])
    with pytest.raises(DataError, match=r"shape \(N, 2\)"):
        from_points(np.zeros((4, 3)))
    with pytest.raises(DataError, match="unknown 2D dataset"):
        make_toy("donut")
