import json

import pytest
import torch

from ganlab.checkpoints import CheckpointError, load_model, read_config, save_model
from ganlab.models import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig


def make_generator() -> Generator:
    torch.manual_seed(0)
    config = GeneratorConfig(
        arch="dcgan", data_shape=(1, 28, 28), num_classes=10, width=8, noise_dim=16, class_names=[str(i) for i in range(10)]
    )
    return Generator(config).eval()


def test_round_trip_gives_bit_identical_outputs(tmp_path):
    g = make_generator()
    save_model(g, tmp_path / "g", metadata={"dataset": "mnist"})
    loaded = load_model(tmp_path / "g", kind="generator")
    z, labels = g.sample_noise(8), torch.arange(8)
    assert torch.equal(g(z, labels), loaded(z, labels))
    assert loaded.config == g.config and loaded.checkpoint_metadata == {"dataset": "mnist"}
    assert not loaded.training
    d = Discriminator(DiscriminatorConfig(arch="dcgan", data_shape=(1, 28, 28), spectral_norm=True, width=8)).eval()
    save_model(d, tmp_path / "d")
    x = torch.randn(4, 1, 28, 28)
    assert torch.equal(d(x), load_model(tmp_path / "d")(x))


def test_files_are_json_and_safetensors_only(tmp_path):
    save_model(make_generator(), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    document = json.loads((tmp_path / "config.json").read_text())
    assert document["kind"] == "generator" and document["config"]["data_shape"] == [1, 28, 28]


def test_corrupt_weights_are_refused_naming_the_file(tmp_path):
    save_model(make_generator(), tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_model(tmp_path)


def test_config_that_does_not_match_the_weights_is_refused(tmp_path):
    save_model(make_generator(), tmp_path)
    document = json.loads((tmp_path / "config.json").read_text())
    document["config"]["width"] = 16
    (tmp_path / "config.json").write_text(json.dumps(document))
    with pytest.raises(CheckpointError, match="does not match.*config.json.*shape"):
        load_model(tmp_path)


def test_broken_or_hostile_configs_are_refused(tmp_path):
    save_model(make_generator(), tmp_path)
    config = tmp_path / "config.json"
    config.write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        read_config(tmp_path)
    config.write_text(json.dumps({"kind": "generator", "class": "os:system", "config": {}}))
    with pytest.raises(CheckpointError, match="not a ganlab model"):
        load_model(tmp_path)
    config.write_text(
        json.dumps({"kind": "generator", "class": "ganlab.models.gan:Generator", "config": {"arch": "mlp", "bogus": 1}})
    )
    with pytest.raises(CheckpointError, match="invalid model config"):
        load_model(tmp_path)


def test_kind_and_missing_checkpoints(tmp_path):
    save_model(make_generator(), tmp_path)
    with pytest.raises(CheckpointError, match="holds a generator, not a classifier"):
        load_model(tmp_path, kind="classifier")
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_model(tmp_path / "nothing-here")
