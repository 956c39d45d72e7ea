import threading

import numpy as np
import pytest
import torch

from ganlab.checkpoints.run import load_run, save_run
from ganlab.data import make_toy
from ganlab.presets import default_config, presets
from ganlab.training import Trainer, TrainingConfig


def mean_distance_to_nearest_mode(points: np.ndarray, modes: np.ndarray) -> float:
    return float(np.sqrt(((points[:, None] - modes[None]) ** 2).sum(-1)).min(1).mean())


def small_trainer(**overrides) -> Trainer:
    return Trainer(default_config("ring8", width=32, batch_size=64, **overrides))


def test_step_moves_are_separate_and_counted():
    trainer = small_trainer()
    g_before = [p.clone() for p in trainer.generator.parameters()]
    d_before = [p.clone() for p in trainer.discriminator.parameters()]
    d_stats = trainer.step_discriminator()
    assert set(d_stats) == {"d_loss", "d_real", "d_fake", "d_grad_norm"}
    assert all(torch.equal(a, b) for a, b in zip(g_before, trainer.generator.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(d_before, trainer.discriminator.parameters()))
    d_after = [p.clone() for p in trainer.discriminator.parameters()]
    trainer.step_generator()
    assert all(torch.equal(a, b) for a, b in zip(d_after, trainer.discriminator.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(g_before, trainer.generator.parameters()))
    assert (trainer.d_step_count, trainer.step_count) == (1, 1)


def test_step_plays_k_discriminator_moves_per_generator_move():
    trainer = small_trainer(d_steps=3)
    event = trainer.step()
    assert (trainer.d_step_count, trainer.step_count) == (3, 1)
    assert event.step == 1 and 0 < event.d_real < 1 and 0 < event.d_fake < 1
    assert event.d_grad_norm > 0 and event.g_grad_norm > 0 and event.examples_per_second > 0


def test_a_one_to_one_step_runs_g_forward_once_and_moves_both_players():
    trainer = small_trainer()
    calls = []
    trainer.generator.register_forward_hook(lambda *args: calls.append(1))
    g_before = [p.clone() for p in trainer.generator.parameters()]
    d_before = [p.clone() for p in trainer.discriminator.parameters()]
    event = trainer.step()
    assert len(calls) == 1  # the D move and the G move share one generated batch
    assert (trainer.d_step_count, trainer.step_count) == (1, 1)
    assert not any(torch.equal(a, b) for a, b in zip(g_before, trainer.generator.parameters()))
    assert not any(torch.equal(a, b) for a, b in zip(d_before, trainer.discriminator.parameters()))
    assert 0 < event.d_real < 1 and 0 < event.d_fake < 1 and event.g_grad_norm > 0


def test_dcgan_runs_channels_last_on_the_cpu_and_saves_plain_tensors(tmp_path):
    trainer = Trainer(default_config("mnist", "dcgan", batch_size=8, width=8, noise_dim=8))
    conv = next(m for m in trainer.generator.modules() if isinstance(m, torch.nn.ConvTranspose2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    list(trainer.run(max_steps=2))
    save_run(trainer, tmp_path / "run")
    resumed = load_run(tmp_path / "run")
    for a, b in zip(trainer.generator.state_dict().values(), resumed.generator.state_dict().values()):
        assert torch.equal(a, b)
    assert next(iter(resumed.run(max_steps=1))).step == 3


def test_seeded_runs_are_reproducible_on_cpu():
    a, b = small_trainer(seed=5), small_trainer(seed=5)
    events_a = [e.g_loss for e in a.run(max_steps=20)]
    events_b = [e.g_loss for e in b.run(max_steps=20)]
    assert events_a == events_b
    assert torch.equal(a.sample(50), b.sample(50))
    c = small_trainer(seed=6)
    assert not torch.equal(a.sample(50), list(c.run(max_steps=20)) and c.sample(50))


def test_training_on_ring_moves_samples_towards_the_modes():
    ring = make_toy("ring8")
    trainer = Trainer(default_config("ring8", seed=0))
    before = mean_distance_to_nearest_mode(trainer.sample(2000).numpy(), ring.modes)
    for _ in trainer.run(max_steps=800):
        pass
    after = mean_distance_to_nearest_mode(trainer.sample(2000).numpy(), ring.modes)
    assert after < before / 2, (before, after)


def test_pause_resume_and_stop_from_another_thread():
    trainer = small_trainer()
    seen = []
    worker = threading.Thread(target=lambda: seen.extend(trainer.run()))
    worker.start()
    while trainer.step_count < 5:
        pass
    trainer.pause()
    paused_at = trainer.step_count
    threading.Event().wait(0.3)
    assert trainer.step_count <= paused_at + 1  # at most the step in flight finishes
    trainer.resume()
    while trainer.step_count < paused_at + 5:
        pass
    trainer.stop()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert seen[-1].status == "stopped"


def test_stop_wakes_a_paused_run():
    trainer = small_trainer()
    trainer.pause()
    worker = threading.Thread(target=lambda: list(trainer.run()))
    worker.start()
    threading.Event().wait(0.2)
    trainer.stop()
    worker.join(timeout=5)
    assert not worker.is_alive() and trainer.step_count == 0


def test_divergence_stops_with_a_message_and_keeps_good_weights():
    trainer = small_trainer()
    list(trainer.run(max_steps=30))
    good = {k: v.clone() for k, v in trainer.generator.state_dict().items()}
    with torch.no_grad():  # sabotage: D now outputs NaN, as a blown-up run would
        next(trainer.discriminator.parameters()).fill_(float("nan"))
    events = list(trainer.run(max_steps=10))
    assert events[-1].status == "diverged"
    assert "diverged at step" in events[-1].message
    restored = trainer.generator.state_dict()
    assert all(torch.isfinite(v).all() for v in trainer.discriminator.state_dict().values() if v.is_floating_point())
    # G's weights are those of the last snapshot (step 25), finite and close to the good ones.
    assert all(torch.isfinite(restored[k]).all() for k in good if good[k].is_floating_point())
    assert trainer.step().status == "diverged"  # further steps do nothing


def test_absurd_learning_rate_diverges_cleanly_not_crashes():
    trainer = small_trainer(lr_g=1.0, lr_d=1.0, loss="wgan", clip_value=1e6)
    events = list(trainer.run(max_steps=300))
    assert events[-1].status in ("diverged", "finished")
    assert all(torch.isfinite(p).all() for p in trainer.generator.parameters())


@pytest.mark.parametrize(
    "bad, message",
    [
        (dict(lr_g=0), "learning rate lr_g must be > 0"),
        (dict(lr_d=-1), "lr_d"),
        (dict(batch_size=0), "batch size"),
        (dict(batch_size=10**6), "batch size"),
        (dict(d_steps=0), "D steps"),
        (dict(beta1=1.0), "beta1"),
        (dict(loss="nope"), "loss must be"),
        (dict(lr_g=float("nan")), "lr_g"),
        (dict(batch_size=3.5), "batch size"),
    ],
)
def test_hyperparameters_are_validated_up_front(bad, message):
    with pytest.raises(ValueError, match=message):
        TrainingConfig(**bad)


def test_live_update_changes_optimizers_and_rejects_structural_changes():
    trainer = small_trainer()
    trainer.update(lr_g=5e-4, d_steps=2, beta1=0.0)
    assert trainer.opt_g.param_groups[0]["lr"] == 5e-4 and trainer.opt_g.param_groups[0]["betas"][0] == 0.0
    trainer.step()
    assert trainer.d_step_count == 2
    with pytest.raises(ValueError, match="learning rate"):
        trainer.update(lr_d=-1)
    assert trainer.config.lr_d == 1e-3  # unchanged after a refused update
    with pytest.raises(ValueError, match="reset the run"):
        trainer.update(width=64)


def test_reset_starts_over():
    trainer = small_trainer()
    initial = trainer.sample(20)
    list(trainer.run(max_steps=10))
    trainer.reset()
    assert trainer.step_count == 0 and torch.equal(trainer.sample(20), initial)


@pytest.mark.parametrize("loss", ["minimax", "wgan", "wgan-gp", "lsgan", "hinge"])
def test_every_objective_trains(loss):
    trainer = small_trainer(loss=loss)
    events = list(trainer.run(max_steps=5))
    assert events[-1].status == "finished" and np.isfinite(events[-1].d_loss)


def test_save_and_resume_a_run(tmp_path):
    trainer = small_trainer()
    list(trainer.run(max_steps=10))
    save_run(trainer, tmp_path)
    resumed = load_run(tmp_path)
    assert resumed.step_count == 10
    assert torch.equal(resumed.sample(30), trainer.sample(30))
    assert resumed.opt_g.state_dict()["state"][0]["exp_avg"].abs().sum() > 0
    list(resumed.run(max_steps=5))
    assert resumed.step_count == 15


@pytest.mark.parametrize("dataset", ["ring8", "mnist"])
def test_a_saved_run_goes_on_with_the_batches_it_would_have_had(tmp_path, dataset):
    # A live run in the app is handed to a worker process and back through save/load at every start
    # and pause: the data stream must continue, not start its epoch (or random points) over.
    if dataset == "mnist":
        config = default_config("mnist", "dcgan", batch_size=16, width=8, noise_dim=8, clusters=0)
    else:
        config = default_config("ring8", width=16)
    trainer = Trainer(config)
    list(trainer.run(max_steps=3))
    save_run(trainer, tmp_path)
    resumed = load_run(tmp_path, trainer.data)
    for _ in range(3):
        expected, _ = trainer.stream.next_batch(16)
        batch, _ = resumed.stream.next_batch(16)
        assert torch.equal(batch, expected)


def test_conditional_image_training_on_bundled_mnist():
    trainer = Trainer(default_config("mnist", "cdcgan", batch_size=16, width=8, noise_dim=8))
    assert trainer.stream.num_classes == 10 and trainer.data.source == "bundled"
    events = list(trainer.run(max_steps=3))
    assert events[-1].status == "finished"
    samples = trainer.fixed_samples()
    assert samples.shape == (64, 1, 28, 28) and samples.abs().max() <= 1


def test_a_conditional_model_needs_labels():
    with pytest.raises(ValueError, match="labelled data"):
        Trainer(default_config("ring8", "cmlp"))


def test_presets_are_valid_configs():
    items = presets("ring8")
    assert {"healthy", "mode-collapse", "vanishing-gradients", "oscillation"} <= set(items)
    assert items["vanishing-gradients"].config.loss == "minimax"
    for preset in items.values():
        assert preset.what_to_look_for


def test_ema_generator_averages_weights_and_is_what_gets_saved(tmp_path):
    trainer = small_trainer(ema_decay=0.9)
    list(trainer.run(max_steps=20))
    ema, current = trainer.ema_generator, trainer.generator
    assert ema is not None and trainer.output_generator is ema
    assert not all(torch.equal(a, b) for a, b in zip(ema.parameters(), current.parameters()))
    save_run(trainer, tmp_path)
    resumed = load_run(tmp_path)
    assert torch.equal(resumed.sample(10), trainer.sample(10))  # samples come from the average
    assert all(torch.equal(a, b) for a, b in zip(resumed.generator.parameters(), current.parameters()))


def test_the_weight_average_measures_its_own_batch_norm_statistics(tmp_path):
    trainer = Trainer(default_config("mnist", "dcgan", batch_size=8, width=4, noise_dim=8, clusters=0))
    list(trainer.run(max_steps=100))  # the statistics are re-measured every 100 steps and at save
    ema, raw = trainer.ema_generator, trainer.generator
    first_norm = ema.body[2]
    assert isinstance(first_norm, torch.nn.BatchNorm2d)
    # What the averaged G's first layer really outputs on fresh noise, per channel:
    with torch.no_grad():
        features = ema.body[:2](ema.sample_noise(4096, generator=torch.Generator().manual_seed(5)))
    actual = features.var(dim=(0, 2, 3))
    assert torch.allclose(first_norm.running_var, actual, rtol=0.1)
    with torch.no_grad():
        raw.body[2].running_var.mul_(10)  # G's own statistics (wrong for the average) are not borrowed:
    list(trainer.run(max_steps=1))
    assert torch.allclose(first_norm.running_var, actual, rtol=0.1)
    save_run(trainer, tmp_path)
    assert torch.equal(load_run(tmp_path).sample(4), trainer.sample(4))
