"""The attacker's denoiser of Appendix D (DnCNN) and the Table 1 / Table 3 plumbing."""
import pytest
import torch

from cgan_lib import paper
from cgan_lib.data import to_float, to_uint8
from cgan_lib.denoiser import DenoiserSettings, denoise, train_denoiser
from cgan_lib.metrics import psnr
from cgan_lib.models import DnCNN
from cgan_lib.profiles import PROFILES


def test_dncnn_is_residual_and_starts_as_the_identity():
    net = DnCNN(3, depth=4, width=8).eval()
    x = torch.rand(2, 3, 28, 30)
    assert torch.equal(net(x), x)            # last layer at zero: x - 0, same shape
    torch.nn.init.constant_(net.body[-1].bias, 0.1)
    assert torch.allclose(net(x), x - 0.1)   # the body predicts the noise, subtracted
    with pytest.raises(ValueError, match="at least 3 layers"):
        DnCNN(3, depth=2)


def test_denoiser_learns_to_remove_a_fixed_noise(tmp_cache):
    g = torch.Generator().manual_seed(0)
    clean = to_uint8(torch.rand(96, 1, 12, 12, generator=g).mul(0.5).add(0.25))
    pattern = (torch.rand(1, 1, 12, 12, generator=g) - 0.5) * 0.25    # the same noise on all
    noisy = to_uint8((to_float(clean) + pattern).clamp(0, 1))
    s = DenoiserSettings(depth=3, channels=16, epochs=40, lr=3e-3, batch_size=32, seed=0)
    model, hist = train_denoiser(noisy, clean, s, progress=False)
    assert hist["loss"][-1] < 0.5 * hist["loss"][0]                    # the loss falls
    before = psnr(noisy, clean).mean()
    after = psnr(denoise(model, noisy), clean).mean()
    assert after > before + 2, (before, after)                       # and the images get closer
    again, hist2 = train_denoiser(noisy, clean, s, progress=False)   # cached: same weights
    assert hist2["loss"] == hist["loss"]
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                 again.state_dict().values()))


def test_denoiser_needs_pairs(tmp_cache):
    with pytest.raises(ValueError, match="pairs"):
        train_denoiser(torch.zeros(4, 1, 8, 8, dtype=torch.uint8),
                       torch.zeros(3, 1, 8, 8, dtype=torch.uint8), DenoiserSettings(depth=3))


def test_denoiser_settings_follow_the_profile():
    assert DenoiserSettings.from_profile(PROFILES["paper"]) == DenoiserSettings(
        depth=17, channels=64, epochs=50, lr=1e-3, batch_size=128)   # Zhang et al.'s DnCNN-S
    ci = DenoiserSettings.from_profile(PROFILES["ci"], seed=1)
    assert (ci.depth, ci.seed) == (PROFILES["ci"].dncnn_depth, 1)
    assert any(d.startswith("DnCNN layers") for d in PROFILES["ci"].departures)


def test_paper_values_by_dataset_fall_back_to_cifar10():
    assert paper.closest_value("table1", "emn", "No augmentation", "svhn", "vgg11").value == 0.326
    v = paper.closest_value("table1", "confoundergan", "No augmentation", "fashion-mnist", "resnet50")
    assert (v.dataset, v.value) == ("cifar10", 0.113)        # named: never passed off as ours
    assert paper.closest_value("table1", "natural", "No augmentation", "cifar10", "resnet18") is None
    assert paper.closest_value("table3", "denoised", "No augmentation", "cifar10").value == 0.779
    assert {r["arch"] for r in paper.rows("table1")} == {"vgg11", "resnet50", "densenet121"}
