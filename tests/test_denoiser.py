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


def test_photo_patches_are_real_seeded_and_sized():
    from cgan_lib.denoiser import photo_patches
    a = photo_patches(64, (28, 28), 1, seed=0)
    assert a.shape == (64, 1, 28, 28) and a.dtype == torch.uint8
    assert torch.equal(a, photo_patches(64, 28, 1, seed=0))          # seeded
    assert not torch.equal(a, photo_patches(64, 28, 1, seed=1))
    c = photo_patches(32, (32, 32), 3, seed=0)
    assert c.shape == (32, 3, 32, 32)
    assert c.float().std() > 20          # photos, not a constant or an empty tensor
    assert (c[:, 0] != c[:, 1]).any()    # colour photos keep their colour
    with pytest.raises(ValueError, match="1 or 3 channels"):
        photo_patches(2, 8, 4)


def test_gaussian_pairs_keep_the_strength_drawn():
    from cgan_lib.denoiser import gaussian_pairs
    x = torch.full((200, 1, 16, 16), 128, dtype=torch.uint8)
    noisy = gaussian_pairs(x, 8 / 255, seed=0)
    d = to_float(noisy) - to_float(x)
    sd = d.flatten(1).std(1)
    assert sd.max() <= 8.5 / 255 and sd.min() < 1 / 255 and sd.mean() > 3 / 255   # U[0, 8/255]
    assert torch.equal(noisy, gaussian_pairs(x, 8 / 255, seed=0))


def test_blind_denoiser_removes_gaussian_noise_from_unseen_patches(tmp_cache):
    from cgan_lib import countermeasures as CM
    from cgan_lib.denoiser import blind_denoiser, gaussian_pairs, photo_patches
    s = DenoiserSettings(depth=4, channels=16, epochs=20, lr=1e-3, batch_size=32, seed=0)
    model, hist = blind_denoiser(512, 16, 3, 16 / 255, s, progress=False)
    assert hist["loss"][-1] < hist["loss"][0]
    clean = photo_patches(128, 16, 3, seed=7)                         # other patches
    noisy = gaussian_pairs(clean, 16 / 255, seed=7)
    out = CM.apply("dncnn", noisy, denoiser=model)
    assert out.dtype == torch.uint8 and out.shape == noisy.shape
    assert psnr(out, clean).mean() > psnr(noisy, clean).mean() + 1
    with pytest.raises(ValueError, match="needs a trained denoiser"):
        CM.apply("dncnn", noisy)
    with pytest.raises(ValueError, match="sigma_max"):
        blind_denoiser(8, 16, 3, 8, s, progress=False)


def test_the_photo_pyramid_is_built_once_and_gray_patches_use_the_countermeasures_luma():
    from cgan_lib import countermeasures, denoiser
    denoiser._pyramid.cache_clear()
    a = denoiser.photo_patches(8, 12, 1, seed=0)
    b = denoiser.photo_patches(8, 12, 1, seed=1)
    assert denoiser._pyramid.cache_info().misses == 1 and denoiser._pyramid.cache_info().hits == 1
    assert not torch.equal(a, b)
    rgb = denoiser._photo("astronaut", 3).round().to(torch.uint8)[None]
    gray = denoiser._photo("astronaut", 1)
    # the same weights as the grayscale countermeasure (up to rounding of uint8 output)
    assert (gray.round() - countermeasures.grayscale(rgb)[0, :1].float()).abs().max() <= 1
    r, g, b = denoiser._photo("astronaut", 3)
    assert torch.allclose(gray[0], 0.2989 * r + 0.587 * g + 0.114 * b, atol=1e-3)   # not 0.299
