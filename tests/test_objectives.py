"""Contrastive losses against hand-computed values."""

import math

import pytest
import torch
import torch.nn.functional as F

from almkit.errors import ConfigError
from almkit.objectives import InfoNCELoss, SigmoidLoss, build_contrastive_loss


def _pairs(n=4, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(n, d, generator=g), dim=-1), F.normalize(torch.randn(n, d, generator=g), dim=-1)


def test_infonce_equals_symmetric_cross_entropy():
    a, t = _pairs()
    scale = torch.tensor(10.0)
    logits = scale * a @ t.T
    target = torch.arange(4)
    expected = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
    assert torch.allclose(InfoNCELoss()(a, t, scale), expected, atol=1e-6)


def test_infonce_two_by_two_by_hand():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    loss = InfoNCELoss()(a, a, torch.tensor(1.0))
    # each row: logits [1, 0] with the target on the 1: -log(e / (e + 1))
    assert loss.item() == pytest.approx(-math.log(math.e / (math.e + 1)), abs=1e-6)


def test_infonce_pair_ids_make_second_caption_a_positive():
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0]])  # the same clip twice
    t = torch.tensor([[1.0, 0.0], [1.0, 0.0]])  # two captions of it
    plain = InfoNCELoss()(a, t, torch.tensor(5.0))
    grouped = InfoNCELoss()(a, t, torch.tensor(5.0), pair_ids=torch.tensor([0, 0]))
    assert plain.item() == pytest.approx(math.log(2), abs=1e-6)  # identical rows: chance
    assert grouped.item() == pytest.approx(math.log(2), abs=1e-6)  # soft target 0.5/0.5 has entropy log 2
    perfect = InfoNCELoss()(torch.eye(2), torch.eye(2), torch.tensor(100.0), pair_ids=torch.tensor([0, 1]))
    assert perfect.item() < 1e-6


def test_sigmoid_loss_by_hand():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    scale, bias = torch.tensor(2.0), torch.tensor(-1.0)
    loss = SigmoidLoss()(a, a, scale, bias)
    pos, neg = 2 * 1 - 1, 2 * 0 - 1
    expected = -(2 * F.logsigmoid(torch.tensor(float(pos))) + 2 * F.logsigmoid(torch.tensor(float(-neg)))) / 2
    assert loss.item() == pytest.approx(expected.item(), abs=1e-6)


def test_losses_fall_when_pairs_align():
    a, t = _pairs(seed=1)
    for loss in (InfoNCELoss(), SigmoidLoss()):
        assert loss(a, a, torch.tensor(10.0), torch.tensor(-5.0)) < loss(a, t, torch.tensor(10.0), torch.tensor(-5.0))


def test_unknown_loss_is_a_config_error():
    with pytest.raises(ConfigError, match="choose one of"):
        build_contrastive_loss("triplet")
