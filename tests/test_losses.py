import math

import pytest
import torch
from torch import nn

from ganlab import losses
from ganlab.losses import OBJECTIVES, get_objective


def sigmoid(t: float) -> float:
    return 1 / (1 + math.exp(-t))


def t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def test_minimax_and_nonsaturating_match_hand_computed_values():
    real, fake = t(2.0, 0.0), t(-1.0, 0.5)
    expected_d = (
        -(math.log(sigmoid(2.0)) + math.log(sigmoid(0.0))) / 2 - (math.log(1 - sigmoid(-1.0)) + math.log(1 - sigmoid(0.5))) / 2
    )
    assert losses.minimax_d_loss(real, fake).item() == pytest.approx(expected_d, rel=1e-12)
    expected_g_minimax = (math.log(1 - sigmoid(-1.0)) + math.log(1 - sigmoid(0.5))) / 2
    assert losses.minimax_g_loss(fake).item() == pytest.approx(expected_g_minimax, rel=1e-12)
    expected_g_ns = -(math.log(sigmoid(-1.0)) + math.log(sigmoid(0.5))) / 2
    assert losses.nonsaturating_g_loss(fake).item() == pytest.approx(expected_g_ns, rel=1e-12)
    # At D's indifference point (logit 0, D = 1/2) the D loss is 2 log 2.
    assert losses.minimax_d_loss(t(0.0), t(0.0)).item() == pytest.approx(2 * math.log(2))


def test_wasserstein_lsgan_hinge_match_hand_computed_values():
    real, fake = t(1.0, 3.0), t(0.5, -0.5)
    assert losses.wasserstein_d_loss(real, fake).item() == pytest.approx(0.0 - 2.0)
    assert losses.wasserstein_g_loss(fake).item() == pytest.approx(0.0)
    # 1/2 * mean((r-1)^2) = 1/2 * (0 + 4)/2 = 1; 1/2 * mean(f^2) = 1/2 * 0.25 = 0.125
    assert losses.lsgan_d_loss(real, fake).item() == pytest.approx(1.125)
    # 1/2 * mean((f-1)^2) = 1/2 * (0.25 + 2.25)/2
    assert losses.lsgan_g_loss(fake).item() == pytest.approx(0.625)
    # relu(1-0.5)=0.5, relu(1-2)=0 -> 0.25; relu(1+0.5)=1.5, relu(1-2)=0 -> 0.75
    assert losses.hinge_d_loss(t(0.5, 2.0), t(0.5, -2.0)).item() == pytest.approx(1.0)
    assert losses.hinge_g_loss(t(0.5, -2.0)).item() == pytest.approx(0.75)


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_every_objective_is_finite_for_extreme_logits(name):
    objective = get_objective(name)
    real = torch.tensor([-200.0, 200.0], requires_grad=True)
    fake = torch.tensor([200.0, -200.0], requires_grad=True)
    d = objective.d_loss(real, fake)
    g = objective.g_loss(fake)
    (d + g).backward()
    assert torch.isfinite(d) and torch.isfinite(g)
    assert torch.isfinite(real.grad).all() and torch.isfinite(fake.grad).all()


def test_saturating_loss_gives_vanishing_gradient_when_d_wins():
    # D confidently rejects the fake (logit -10): the minimax G gradient is tiny, the
    # non-saturating one is not. This is the teaching point of the "vanishing gradients" preset.
    fake = torch.tensor([-10.0], requires_grad=True)
    losses.minimax_g_loss(fake).backward()
    saturating = fake.grad.abs().item()
    fake.grad = None
    losses.nonsaturating_g_loss(fake).backward()
    assert saturating < 1e-4 < fake.grad.abs().item()


def test_gradient_penalty_of_linear_critic_is_norm_minus_one_squared():
    critic = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 4.0]]))  # ||grad|| = 5 everywhere
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    penalty = losses.gradient_penalty(lambda x: critic(x).squeeze(1), real, fake)
    assert penalty.item() == pytest.approx((5 - 1) ** 2)


def test_unknown_objective_is_named_in_the_error():
    with pytest.raises(ValueError, match="unknown loss 'nope'.*hinge"):
        get_objective("nope")


def test_only_the_log_loss_objectives_read_d_as_a_probability():
    # A sigmoid of a hinge, least-squares or Wasserstein score is not a probability: the views must
    # show those scores as they are.
    probabilistic = {name for name, objective in losses.OBJECTIVES.items() if objective.d_output == "probability"}
    assert probabilistic == {"minimax", "nonsaturating"}
    logits = torch.tensor([-2.0, 0.0, 3.0])
    assert torch.equal(get_objective("hinge").d_score(logits), logits)
    assert torch.allclose(get_objective("minimax").d_score(logits), torch.sigmoid(logits))
