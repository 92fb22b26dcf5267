"""Data augmentations of a model trainer (Appendix G.6), applied to whole batches on the device.

Each augmentation draws its own random parameters per image (a batch-level
``torchvision.transforms.v2.RandomHorizontalFlip`` would flip all images of a batch
together). MixUp and CutMix are torchvision's batch transforms.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

AUGMENTATIONS = ("none", "flip", "crop", "flip+crop", "cutout", "mixup", "cutmix", "fa")
LABELS = {"none": "No augmentation", "flip": "RHF", "crop": "RC", "flip+crop": "RHF+RC",
          "cutout": "CutOut", "mixup": "MixUp", "cutmix": "CutMix", "fa": "FA"}


def random_flip(x: torch.Tensor, g: torch.Generator | None = None) -> torch.Tensor:
    m = torch.rand(x.shape[0], generator=g, device="cpu").to(x.device) < 0.5
    return torch.where(m.view(-1, 1, 1, 1), x.flip(-1), x)


def random_crop(x: torch.Tensor, padding: int = 4, g: torch.Generator | None = None) -> torch.Tensor:
    """Zero-pad by ``padding`` and crop back at a random offset, per image."""
    b, c, h, w = x.shape
    xp = F.pad(x, (padding,) * 4)
    oy = torch.randint(0, 2 * padding + 1, (b,), generator=g).to(x.device)
    ox = torch.randint(0, 2 * padding + 1, (b,), generator=g).to(x.device)
    rows = (oy.view(b, 1) + torch.arange(h, device=x.device)).view(b, 1, h, 1).expand(b, c, h, w)
    cols = (ox.view(b, 1) + torch.arange(w, device=x.device)).view(b, 1, 1, w).expand(b, c, h, w)
    out = xp[torch.arange(b, device=x.device).view(b, 1, 1, 1),
             torch.arange(c, device=x.device).view(1, c, 1, 1), rows, cols]
    return out


def cutout(x: torch.Tensor, length: int = 16, g: torch.Generator | None = None) -> torch.Tensor:
    """Zero a ``length`` x ``length`` square at a random centre, per image (DeVries & Taylor)."""
    b, c, h, w = x.shape
    cy = torch.randint(0, h, (b,), generator=g).to(x.device).view(b, 1, 1)
    cx = torch.randint(0, w, (b,), generator=g).to(x.device).view(b, 1, 1)
    yy = torch.arange(h, device=x.device).view(1, h, 1)
    xx = torch.arange(w, device=x.device).view(1, 1, w)
    half = length // 2
    inside = (yy >= cy - half) & (yy < cy + length - half) & (xx >= cx - half) & (xx < cx + length - half)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def _fixed_policy(x: torch.Tensor, g: torch.Generator | None = None) -> torch.Tensor:
    """The fixed augmentation policy of Table 2 ("FA"): contrast, brightness, sharpness,
    rotation and cutout, each with a random magnitude per image, in a random subset."""
    from torchvision.transforms.v2 import functional as TF

    b = x.shape[0]
    dev = x.device

    def u(lo, hi):
        return (torch.rand(b, generator=g) * (hi - lo) + lo).to(dev).view(b, 1, 1, 1)

    def on():
        return (torch.rand(b, generator=g) < 0.5).to(dev).view(b, 1, 1, 1)

    gray = x.mean(dim=(1, 2, 3), keepdim=True)
    x = torch.where(on(), (gray + u(0.6, 1.4) * (x - gray)).clamp(0, 1), x)       # contrast
    x = torch.where(on(), (x * u(0.6, 1.4)).clamp(0, 1), x)                        # brightness
    sharp = TF.adjust_sharpness(x, 2.0)
    k = u(0.0, 1.0)
    x = torch.where(on(), (x + k * (sharp - x)).clamp(0, 1), x)                    # sharpness
    ang = u(-30, 30).view(b) * math.pi / 180
    cos, sin = torch.cos(ang), torch.sin(ang)
    theta = torch.stack([torch.stack([cos, -sin, torch.zeros_like(cos)], 1),
                         torch.stack([sin, cos, torch.zeros_like(cos)], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = torch.where(on(), F.grid_sample(x, grid, align_corners=False), x)          # rotation
    x = torch.where(on(), cutout(x, max(1, x.shape[-1] // 2), g), x)               # cutout
    return x


def augment_batch(name: str, x: torch.Tensor, y: torch.Tensor, n_classes: int,
                  g: torch.Generator | None = None):
    """Augment a float batch in [0, 1]; returns ``(x, y)`` where y may be soft labels."""
    if name in ("none", None):
        return x, y
    if name == "flip":
        return random_flip(x, g), y
    if name == "crop":
        return random_crop(x, 4, g), y
    if name == "flip+crop":
        return random_crop(random_flip(x, g), 4, g), y
    if name == "cutout":
        return cutout(x, 16, g), y
    if name in ("mixup", "cutmix"):
        from torchvision.transforms import v2
        t = v2.MixUp(num_classes=n_classes) if name == "mixup" else v2.CutMix(num_classes=n_classes)
        return t(x, y)
    if name == "fa":
        return _fixed_policy(x, g), y
    raise ValueError(f"Unknown augmentation {name!r}. Known: {', '.join(AUGMENTATIONS)}.")
