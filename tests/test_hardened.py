"""Chapter 9's hardened generators: bounds, the texture's shift structure, labels, learning."""
import pytest
import torch

from cgan_lib import protections
from cgan_lib.hardened import (HardenedSettings, TextureGenerator, project, protect_hardened,
                               train_hardened)
from cgan_lib.models import l2_bound
from cgan_lib.profiles import get_profile


def test_project_holds_both_bounds():
    torch.manual_seed(0)
    n = torch.randn(5, 3, 8, 8)
    p = project(n, 0.1, 0.5)
    assert p.abs().max() <= 0.1 + 1e-7
    assert (p.flatten(1).norm(dim=1) <= 0.5 + 1e-5).all()
    small = torch.full((1, 1, 4, 4), 0.01)
    assert torch.equal(project(small, 0.1, 10.0), small)      # inside both balls: unchanged


def test_texture_noise_repeats_with_its_period_and_follows_the_label():
    torch.manual_seed(0)
    G = TextureGenerator(n_classes=3, channels=1, eps=0.1, c=100.0, tile=4)
    x = torch.rand(3, 1, 16, 16)
    y = torch.tensor([0, 1, 2])
    noise = G(x, y)
    # a shift by the period leaves the noise unchanged: a crop only moves its phase
    assert torch.allclose(noise[..., 4:, :], noise[..., :-4, :])
    assert torch.allclose(noise[..., :, 4:], noise[..., :, :-4])
    # the same class gives the same noise whatever the image; another class another noise
    assert torch.allclose(G(torch.rand(1, 1, 16, 16), y[:1]), noise[:1])
    assert not torch.allclose(noise[0], noise[1])
    with pytest.raises(ValueError, match="pass the labels"):
        G(x)


def test_texture_training_makes_the_label_readable_after_crop_and_flip():
    torch.manual_seed(0)
    x = (100 + torch.rand(256, 1, 16, 16) * 50).to(torch.uint8)   # images carry no class
    y = torch.arange(256) % 4
    s = HardenedSettings(variant="texture", epochs=20, eps=16 / 255, c=100.0, batch_size=32,
                         tile=4, reader_width=8)
    G, hist = train_hardened(x, y, 4, s, progress=False)
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert hist[-1]["read_acc"] > 0.6                         # chance: 0.25
    prot = protect_hardened(G, x, y)
    delta = prot.float() - x.float()
    assert delta.abs().max() <= 16 + 0.5


def test_registered_and_validated():
    names = [n for n in protections.PROTECTIONS if n.startswith("hardened")]
    assert set(names) == {"hardened-eot", "hardened-texture-label", "hardened-texture",
                          "hardened-texture-label-linf"}
    assert protections.PROTECTIONS["hardened-texture-label"].needs_labels
    assert protections.PROTECTIONS["hardened-texture-label-linf"].needs_labels
    assert protections.PROTECTIONS["hardened-texture-label-linf"].budget == "linf"
    assert not protections.PROTECTIONS["hardened-texture"].needs_labels
    with pytest.raises(ValueError, match="Unknown hardened variant"):
        HardenedSettings.from_profile(get_profile("ci"), "blur", 0.1, (1, 28, 28), "fashion-mnist")
    s = HardenedSettings.from_profile(get_profile("ci"), "texture-label", 0.1, (1, 28, 28),
                                      "fashion-mnist")
    assert s.variant == "texture" and s.epochs == get_profile("ci").hardened_epochs
    with pytest.raises(ValueError, match="needs the owner's classifier"):
        train_hardened(torch.zeros(4, 1, 8, 8, dtype=torch.uint8), torch.zeros(4, dtype=torch.long),
                       2, HardenedSettings(variant="eot", epochs=1, eps=0.1, c=1.0), f=None,
                       progress=False)


def test_linf_budget_drops_the_l2_bound_and_keeps_the_linf_bound():
    ci, shape, eps = get_profile("ci"), (1, 28, 28), 16 / 255
    hinge = HardenedSettings.from_profile(ci, "texture-label", eps, shape, "fashion-mnist")
    linf = HardenedSettings.from_profile(ci, "texture-label", eps, shape, "fashion-mnist",
                                         budget="linf")
    assert hinge.c == pytest.approx(ci.hinge_fraction * l2_bound(eps, shape))
    assert linf.c == pytest.approx(l2_bound(eps, shape)) and linf.c > hinge.c
    # noise at the corners of the L-inf ball: the hinge budget shrinks it, the L-inf one not
    torch.manual_seed(0)
    corner = eps * torch.randn(4, *shape).sign()
    assert torch.allclose(project(corner, eps, linf.c), corner)
    shrunk = project(corner, eps, hinge.c)
    assert (shrunk.flatten(1).norm(dim=1) <= hinge.c + 1e-5).all()
    assert shrunk.abs().max() < eps * 0.9
    with pytest.raises(ValueError, match="Unknown budget 'l2'.*hinge.*linf"):
        HardenedSettings.from_profile(ci, "texture-label", eps, shape, "fashion-mnist", budget="l2")


def test_linf_texture_protection_uses_more_of_the_budget_than_the_hinge_one(tmp_cache):
    from cgan_lib.protections import Owner, make
    torch.manual_seed(0)
    n, shape, eps = 64, (1, 16, 16), 16 / 255
    x = (60 + torch.rand(n, *shape) * 120).to(torch.uint8)
    y = torch.arange(n) % 2
    P = get_profile("ci").replace(classifier_epochs=1, hardened_epochs=2, n_train=None)
    owner = Owner(P, eps, 2, "toy", ("a", "b"), x[:8], y[:8], progress=False)
    l2 = {}
    for m in ("hardened-texture-label", "hardened-texture-label-linf"):
        d = make(m, owner, seed=0).fit(x, y).protect(x, y).float() - x.float()
        assert d.abs().max() <= 16 + 0.5
        l2[m] = float((d / 255).flatten(1).norm(dim=1).mean())
    c = P.hinge_fraction * l2_bound(eps, shape)     # ConfounderGAN's L2 bound
    assert l2["hardened-texture-label"] <= c * 1.05          # (+ uint8 rounding)
    assert l2["hardened-texture-label-linf"] > 1.15 * c      # not held to it
