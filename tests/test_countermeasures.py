"""The trainer's countermeasures (chapter 08): data transforms and adversarial training."""
import pytest
import torch
import torch.nn.functional as F

from cgan_lib import countermeasures as C
from cgan_lib.profiles import PROFILES
from cgan_lib.victim import TrainSettings, pgd, train_model


def _images(n=6, c=3, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    smooth = F.interpolate(torch.rand(n, c, 8, 8, generator=g), size=size, mode="bilinear")
    return (smooth * 255).round().to(torch.uint8)


def test_grayscale_repeats_the_luma_over_the_channels():
    x = _images()
    g = C.apply("grayscale", x)
    assert g.shape == x.shape and g.dtype == torch.uint8
    assert torch.equal(g[:, 0], g[:, 1]) and torch.equal(g[:, 1], g[:, 2])
    assert not torch.equal(g, x)
    one = _images(c=1)
    assert torch.equal(C.apply("grayscale", one), one)


def test_jpeg_is_a_real_lossy_round_trip():
    x = _images()
    err = {q: (C.apply(f"jpeg-{q}", x).float() - x.float()).abs().mean().item() for q in (10, 95)}
    assert 0 < err[95] < err[10]                         # lower quality, larger error
    assert C.apply("jpeg-10", x).shape == x.shape
    assert torch.equal(C.apply("jpeg-10", x), C.apply("jpeg-10", x))      # deterministic
    assert C.apply("jpeg-50", _images(c=1)).shape == (6, 1, 32, 32)        # grayscale JPEG
    with pytest.raises(ValueError, match="quality"):
        C.jpeg(x, 0)


def test_bit_depth_reduction_keeps_2_to_the_bits_levels():
    x = _images()
    assert set(C.apply("bdr-1", x).unique().tolist()) <= {0, 255}
    assert len(C.apply("bdr-2", x).unique()) <= 4
    assert torch.equal(C.apply("bdr-8", x), x)


def test_bad_countermeasures_are_named():
    with pytest.raises(ValueError, match="Known: none, grayscale, jpeg-Q"):
        C.apply("blur", _images())
    with pytest.raises(TypeError, match="uint8"):
        C.apply("none", torch.rand(2, 3, 8, 8))
    assert C.label("jpeg-10") == "JPEG-10" and C.label("bdr-2") == "bit depth 2"


def test_adversarial_training_enters_the_cache_key_only_when_on():
    plain = TrainSettings()
    assert "adv_eps" not in plain.key() and "adv_steps" not in plain.key()
    at = TrainSettings.victim(PROFILES["ci"], adv_eps=8 / 255)
    assert at.adv_steps == PROFILES["ci"].at_steps and at.key()["adv_eps"] == 8 / 255


def test_pgd_stays_in_the_ball_and_raises_the_loss():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 10))
    x, y = torch.rand(16, 3, 8, 8), torch.randint(0, 10, (16,))
    eps = 4 / 255
    xa = pgd(model, x, y, eps, steps=5)
    assert (xa - x).abs().max() <= eps + 1e-6 and xa.min() >= 0 and xa.max() <= 1
    assert F.cross_entropy(model(xa), y) > F.cross_entropy(model(x), y)
    assert model.training                                 # the mode is restored


def test_an_adversarially_trained_victim_trains(tmp_cache):
    x, y = _images(40, 1, 16), torch.arange(40) % 4
    s = TrainSettings(arch="vgg11", width=0.125, epochs=1, batch_size=16, val_fraction=0.2,
                      adv_eps=8 / 255, adv_steps=2)
    _, h = train_model(x, y, x[:8], y[:8], 4, s, progress=False)
    assert h["settings"]["adv_eps"] == 8 / 255 and len(h["test_acc"]) == 1


def test_survival_needs_every_seed_below_natural_beyond_the_spread():
    nat = {"none": [0.80, 0.82], "jpeg-10": [0.70, 0.72], "grayscale": [0.78, 0.80],
           "bdr-2": [0.70, 0.72]}
    prot = {"none": [0.30, 0.34], "jpeg-10": [0.65, 0.40], "grayscale": [0.77, 0.79],
            "bdr-2": [0.59, 0.22]}
    sv = C.survival(nat, prot)
    r = sv["rows"]
    assert r["none"]["survives"] and abs(r["none"]["gap_mean"] - 0.49) < 1e-9
    assert r["none"]["gap_std"] == pytest.approx(0.02 / 2 ** 0.5)   # gaps 0.50, 0.48
    assert not r["jpeg-10"]["survives"]            # one seed only 5 points below natural
    assert not r["grayscale"]["survives"]
    # every seed more than 10 points below (gaps 0.11 and 0.50), but the spread is wide
    assert not r["bdr-2"]["survives"]
    assert sv["worst"] == "grayscale" and sv["survives"] == ["none"]
    # one seed decides nothing, however large its gap (as for the paper's claims)
    assert C.survival({"none": [0.8]}, {"none": [0.1]})["survives"] == []
    assert r["grayscale"]["acc_mean"] == pytest.approx(0.78)
    with pytest.raises(ValueError, match="different countermeasures"):
        C.survival({"none": [0.8]}, {"jpeg-10": [0.3]})
    with pytest.raises(ValueError, match="one of each per seed"):
        C.survival({"none": [0.8, 0.8]}, {"none": [0.3]})
