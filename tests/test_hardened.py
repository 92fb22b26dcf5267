"""Chapter 9's hardened generators: bounds, the texture's shift structure, labels, learning."""
import pytest
import torch

from cgan_lib import protections
from cgan_lib.hardened import (HardenedSettings, TextureGenerator, project, protect_hardened,
                               train_hardened)
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
    assert set(names) == {"hardened-eot", "hardened-texture-label", "hardened-texture"}
    assert protections.PROTECTIONS["hardened-texture-label"].needs_labels
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
