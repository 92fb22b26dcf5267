import math

import pytest
import torch
import torch.nn.functional as F

from cgan_lib import losses
from cgan_lib.models import (ARCHS, Discriminator, Generator, PretrainedWeightsUnavailable,
                             l2_bound, make_classifier)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (3, 37, 50), (4, 16, 16)])
def test_generator_any_size_and_bound(shape):
    eps = 8 / 255
    G = Generator(shape[0], eps, width=8)
    x = torch.rand(3, *shape) * 10   # even wild inputs cannot break the bound
    n = G(x)
    assert n.shape == x.shape
    assert n.abs().max() <= eps + 1e-7
    assert Discriminator(shape[0], 8)(x).shape == (3,)


@pytest.mark.parametrize("arch", ARCHS)
def test_classifier_zoo_small_images(arch):
    for c, s in ((1, 28), (3, 32)):
        m = make_classifier(arch, 7, c, [0.5] * c, [0.25] * c, width=0.125)
        assert m(torch.rand(2, c, s, s)).shape == (2, 7)


def test_resnet18_has_cifar_stem_and_width():
    m = make_classifier("resnet18", 10, 3, [0.5] * 3, [0.25] * 3)[1]
    assert m.conv1.kernel_size == (3, 3) and m.conv1.stride == (1, 1)
    assert isinstance(m.maxpool, torch.nn.Identity)
    assert m.fc.in_features == 512
    n_params = sum(p.numel() for p in m.parameters())
    assert 11.0e6 < n_params < 11.3e6           # the standard CIFAR ResNet18 has ~11.17M
    narrow = make_classifier("resnet18", 10, 3, [0.5] * 3, [0.25] * 3, width=0.25)[1]
    assert narrow.fc.in_features == 128
    with pytest.raises(ValueError, match="Unknown architecture"):
        make_classifier("lenet", 10, 3, [0.5] * 3, [0.25] * 3)


@pytest.mark.parametrize("arch", ARCHS)
def test_stem_stride_two_halves_the_resolution_of_every_block(arch):
    full = make_classifier(arch, 10, 1, [0.5], [0.25], width=0.125, image_size=28)
    half = make_classifier(arch, 10, 1, [0.5], [0.25], width=0.125, image_size=28, stem_stride=2)
    first = lambda m: next(c for c in m.modules() if isinstance(c, torch.nn.Conv2d))
    x = torch.rand(2, 1, 28, 28)
    assert first(full)(x).shape[-2:] == (28, 28)
    assert first(half)(x).shape[-2:] == (14, 14)
    assert half(x).shape == (2, 10)
    # the same parameters: only the stride differs
    assert sum(p.numel() for p in full.parameters()) == sum(p.numel() for p in half.parameters())
    with pytest.raises(ValueError, match="stem_stride must be 1"):
        make_classifier(arch, 10, 1, [0.5], [0.25], image_size=28, stem_stride=4)


def test_stem_stride_enters_cache_keys_only_when_it_is_not_one():
    from cgan_lib.baselines import EMNSettings
    from cgan_lib.profiles import get_profile
    from cgan_lib.victim import TrainSettings
    ci, quick = get_profile("ci"), get_profile("quick")
    assert ci.stem_stride == 2 and quick.stem_stride == 1 == get_profile("paper").stem_stride
    assert "stem_stride" not in TrainSettings.victim(quick).key()
    assert TrainSettings.victim(ci).key()["stem_stride"] == 2
    assert TrainSettings.classifier(ci, 28).stem_stride == 2
    assert "stem_stride" not in EMNSettings.from_profile(quick, 8 / 255).key()
    assert EMNSettings.from_profile(ci, 16 / 255).key()["stem_stride"] == 2
    assert any("first convolution: 2 (paper: not stated; full scale: 1, the CIFAR stem" in d for d in ci.departures)
    assert "stem stride 2" in ci.summary() and "stem stride" not in quick.summary()


def test_large_images_get_the_imagenet_stem_and_weights_need_the_network(monkeypatch):
    m = make_classifier("resnet18", 25, 3, [0.5] * 3, [0.25] * 3, image_size=224)[1]
    assert m.conv1.kernel_size == (7, 7) and m.conv1.stride == (2, 2)
    assert isinstance(m.maxpool, torch.nn.MaxPool2d) and m.fc.out_features == 25
    gray = make_classifier("resnet18", 5, 1, [0.5], [0.25], image_size=96)
    assert gray(torch.rand(2, 1, 96, 96)).shape == (2, 5)
    monkeypatch.setenv("CGAN_OFFLINE", "1")
    with pytest.raises(PretrainedWeightsUnavailable, match="CGAN_OFFLINE=1 forbids the download"):
        make_classifier("resnet18", 25, 3, [0.5] * 3, [0.25] * 3, image_size=224, pretrained=True)
    with pytest.raises(ValueError, match="ImageNet weights are for images"):
        make_classifier("resnet18", 10, 3, [0.5] * 3, [0.25] * 3, image_size=32, pretrained=True)


def test_discriminator_loss_values():
    z = torch.zeros(4)
    assert torch.isclose(losses.discriminator_loss(z, z), torch.tensor(2 * math.log(2)))
    good = losses.discriminator_loss(torch.full((4,), 10.0), torch.full((4,), -10.0))
    bad = losses.discriminator_loss(torch.full((4,), -10.0), torch.full((4,), 10.0))
    assert good < 1e-3 and bad > 19


def test_confounder_loss_is_ce_on_noise_alone():
    f = torch.nn.Linear(6, 3)
    noise, t = torch.randn(5, 6), torch.tensor([0, 1, 2, 0, 1])
    assert torch.isclose(losses.confounder_loss(f, noise, t), F.cross_entropy(f(noise), t))


def test_hinge_loss():
    noise = torch.zeros(2, 4)
    noise[0, 0] = 3.0   # L2 = 3
    noise[1, 0] = 1.0   # L2 = 1
    assert torch.isclose(losses.hinge_loss(noise, c=2.0), torch.tensor(0.5))   # (1 + 0) / 2
    assert losses.hinge_loss(noise, c=5.0) == 0
    assert l2_bound(1 / 255, (3, 32, 32)) == pytest.approx(math.sqrt(3072) / 255)


def test_generator_objective_weights():
    f = torch.nn.Linear(6, 3)
    noise, t = torch.randn(5, 6), torch.tensor([0, 1, 2, 0, 1])
    d_fake = torch.randn(5)
    a = losses.generator_objective(f, noise, t, d_fake, c=0.0, alpha=0.5, adv_weight=0.0)
    assert torch.isclose(a["total"], a["confounder"] + 0.5 * a["hinge"])
    b = losses.generator_objective(f, noise, t, d_fake, c=0.0, alpha=0.5, adv_weight=2.0)
    assert torch.isclose(b["total"], b["confounder"] + 0.5 * b["hinge"] + 2.0 * b["adversarial"])


def test_ssim_and_psnr_behave():
    from cgan_lib import metrics
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(4, 3, 32, 32, generator=g) * 255).to(torch.uint8)
    small = (x.int() + torch.randint(-4, 5, x.shape, generator=g)).clamp(0, 255).to(torch.uint8)
    large = (x.int() + torch.randint(-32, 33, x.shape, generator=g)).clamp(0, 255).to(torch.uint8)
    assert torch.allclose(metrics.ssim(x, x), torch.ones(4), atol=1e-5)
    s_small, s_large = metrics.ssim(x, small), metrics.ssim(x, large)
    assert (s_small < 1).all() and (s_large < s_small).all()
    assert (metrics.psnr(x, large) < metrics.psnr(x, small)).all()
    # the same images as [0, 1] floats (how a 16-bit photo is read) give the same numbers
    xf, lf = x.float() / 255, large.float() / 255
    assert torch.allclose(metrics.psnr(xf, lf), metrics.psnr(x, large))
    assert torch.allclose(metrics.ssim(xf, lf), metrics.ssim(x, large))
    assert torch.isinf(metrics.psnr(xf, xf)).all()


def test_freeze_turns_off_training():
    from cgan_lib.models import freeze
    m = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4), torch.nn.Dropout(0.5))
    out = freeze(m)
    assert out is m and not m.training and not any(mod.training for mod in m.modules())
    assert not any(p.requires_grad for p in m.parameters())
    x = torch.randn(3, 4)
    assert torch.equal(m(x), m(x))          # dropout off, BN on its running statistics
