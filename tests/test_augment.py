import pytest
import torch

from cgan_lib.augment import AUGMENTATIONS, augment_batch, cutout, random_crop, random_flip


def test_flip_is_per_image():
    x = torch.rand(64, 3, 8, 8)
    out = random_flip(x, torch.Generator().manual_seed(0))
    flipped = [torch.equal(out[i], x[i].flip(-1)) for i in range(64)]
    kept = [torch.equal(out[i], x[i]) for i in range(64)]
    assert all(a or b for a, b in zip(flipped, kept))
    assert 10 < sum(flipped) < 54


def test_crop_shifts_content_with_zero_padding():
    x = torch.arange(64.0).view(1, 1, 8, 8).repeat(32, 1, 1, 1) + 1
    out = random_crop(x, 4, torch.Generator().manual_seed(1))
    assert out.shape == x.shape
    for i in range(32):
        vals = out[i][out[i] > 0]
        assert set(vals.tolist()) <= set(x[0].flatten().tolist())   # only shifted, never invented
    assert not all(torch.equal(out[i], x[i]) for i in range(32))


def test_cutout_square():
    x = torch.ones(4, 3, 32, 32)
    out = cutout(x, 16, torch.Generator().manual_seed(0))
    zeros = (out[:, 0] == 0).sum(dim=(1, 2))
    assert (zeros <= 256).all() and (zeros > 0).all()


@pytest.mark.parametrize("name", AUGMENTATIONS)
def test_every_augmentation_runs(name):
    x, y = torch.rand(8, 3, 32, 32), torch.randint(0, 10, (8,))
    xa, ya = augment_batch(name, x, y, 10, torch.Generator().manual_seed(0))
    assert xa.shape == x.shape and 0 <= xa.min() and xa.max() <= 1
    assert ya.shape in ((8,), (8, 10))


def test_unknown_augmentation():
    with pytest.raises(ValueError, match="Unknown augmentation"):
        augment_batch("autoaugment", torch.rand(2, 1, 8, 8), torch.zeros(2, dtype=torch.long), 10)
