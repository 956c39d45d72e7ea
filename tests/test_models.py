import pytest
import torch

from ganlab.models import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig


@pytest.mark.parametrize("shape", [(2,), (1, 28, 28), (3, 32, 32)])
@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
@pytest.mark.parametrize("num_classes", [0, 10])
def test_shapes_and_output_range(shape, arch, num_classes):
    if arch == "dcgan" and len(shape) == 1:
        with pytest.raises(ValueError, match="DCGAN needs square"):
            GeneratorConfig(arch=arch, data_shape=shape)
        return
    g = Generator(GeneratorConfig(arch=arch, data_shape=shape, noise_dim=8, num_classes=num_classes, width=16))
    d = Discriminator(
        DiscriminatorConfig(arch=arch, data_shape=shape, num_classes=num_classes, width=16, spectral_norm=num_classes > 0)
    )
    labels = torch.arange(5) % num_classes if num_classes else None
    x = g(g.sample_noise(5), labels)
    assert x.shape == (5, *shape)
    if len(shape) == 3:
        assert x.abs().max() <= 1  # tanh output
    assert d(x, labels).shape == (5,)


def test_conditional_generator_uses_its_label():
    g = Generator(GeneratorConfig(arch="dcgan", data_shape=(1, 28, 28), num_classes=10, width=8)).eval()
    z = g.sample_noise(1).repeat(2, 1)
    out = g(z, torch.tensor([3, 7]))
    assert not torch.allclose(out[0], out[1])
    with pytest.raises(ValueError, match="conditional"):
        g(z)


def test_uniform_noise_is_in_minus_one_one():
    g = Generator(GeneratorConfig(noise_distribution="uniform", noise_dim=16))
    z = g.sample_noise(1000)
    assert z.min() >= -1 and z.max() <= 1 and z.std() > 0.5


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(arch="resnet"), "architecture"),
        (dict(width=0), "width"),
        (dict(noise_dim=0), "noise dimension"),
        (dict(noise_distribution="cauchy"), "noise distribution"),
        (dict(arch="dcgan", data_shape=(1, 64, 64)), "28x28"),
    ],
)
def test_bad_configs_are_refused_with_a_clear_message(bad, message):
    with pytest.raises(ValueError, match=message):
        GeneratorConfig(**bad)


def test_minibatch_stddev_feature_measures_the_spread_of_each_group():
    from ganlab.models.layers import MinibatchStdDev

    layer = MinibatchStdDev(group_size=4)
    same = torch.ones(8, 3, 5, 5)
    out = layer(same)
    assert out.shape == (8, 4, 5, 5)
    assert torch.allclose(out[:, :3], same)
    assert out[:, 3].abs().max() < 1e-3  # identical samples: no spread (a collapsed G shows up as ~0)
    varied = torch.randn(8, 3, 5, 5)
    spread = layer(varied)[:, 3]
    assert spread.min() > 0.3  # unit-variance samples: spread near 1
    # Group membership is i % (n / group): samples 0, 2, 4, 6 share one value, 1, 3, 5, 7 the other.
    assert torch.allclose(spread[0], spread[2]) and torch.allclose(spread[1], spread[7])
    assert not torch.allclose(spread[0], spread[1])
    assert layer(torch.randn(6, 3, 5, 5)).shape == (6, 4, 5, 5)  # 6 does not divide by 4: one group


def test_discriminator_with_minibatch_stddev_sees_collapse():
    d = Discriminator(DiscriminatorConfig(arch="dcgan", data_shape=(1, 28, 28), width=8, minibatch_std=True)).eval()
    varied = torch.rand(8, 1, 28, 28) * 2 - 1
    collapsed = varied[:1].repeat(8, 1, 1, 1)
    # Same first image, different company: without the feature D's output for it could not change.
    assert not torch.allclose(d(varied)[0], d(collapsed)[0])
