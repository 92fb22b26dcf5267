"""Appendix D: the adaptive attacker who owns the released generator and trains a denoiser.

The attacker cannot see the owner's originals, so (Appendix D, steps 1-4) they

1. take natural images of their own (the other half of the training set),
2. protect them with the owner's released generator,
3. train a DnCNN (Zhang et al. 2017) to map protected back to natural,
4. denoise the owner's protected images and train their model on the result.

:func:`train_denoiser` is step 3 (cached, seeded); :func:`denoise` is step 4's mapping.
The profile holds DnCNN's size and schedule (``dncnn_*``; the paper profile: 17 layers of 64
channels, Adam at 1e-3 for 50 epochs with the lr divided by 10 after 30, as Zhang et al.).
"""
from __future__ import annotations

import functools
import time
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F

from .artifacts import cached_tensors
from .data import to_float, to_uint8
from .device import device_name, get_device
from .device import progress as progress_bar
from .models import DnCNN
from .victim import tensor_digest


@dataclass(frozen=True)
class DenoiserSettings:
    """Everything that determines a trained denoiser besides its data (the cache key)."""
    depth: int = 17
    channels: int = 64
    epochs: int = 50
    lr: float = 1e-3
    batch_size: int = 128
    seed: int = 0

    @classmethod
    def from_profile(cls, profile, **kw) -> "DenoiserSettings":
        base = cls(depth=profile.dncnn_depth, channels=profile.dncnn_channels,
                   epochs=profile.dncnn_epochs, lr=profile.dncnn_lr,
                   batch_size=profile.batch_size)
        return replace(base, **kw)


def _fit(noisy_u8, clean_u8, s: DenoiserSettings, progress: bool, desc: str):
    dev = get_device()
    torch.manual_seed(s.seed)
    g = torch.Generator().manual_seed(s.seed)
    model = DnCNN(noisy_u8.shape[1], s.depth, s.channels).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=s.lr)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [max(1, round(0.6 * s.epochs))], 0.1)
    xn, xc = noisy_u8.to(dev), clean_u8.to(dev)
    n, losses, t0 = len(xn), [], time.time()
    for _ in progress_bar(range(s.epochs), desc, progress):
        model.train()
        perm = torch.randperm(n, generator=g).to(dev)
        total = torch.zeros((), device=dev)
        for i in range(0, n, s.batch_size):
            idx = perm[i:i + s.batch_size]
            if len(idx) < 2:
                continue
            loss = F.mse_loss(model(to_float(xn[idx])), to_float(xc[idx]))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * len(idx)
        sched.step()
        losses.append(total.item() / n)
    model.eval()
    return model, {"loss": losses, "seconds": round(time.time() - t0, 2), "device": device_name(dev)}


def train_denoiser(noisy_u8: torch.Tensor, clean_u8: torch.Tensor, s: DenoiserSettings,
                   progress: bool = True, desc: str = "DnCNN"):
    """A DnCNN trained on the pairs (``noisy_u8`` -> ``clean_u8``), cached: ``(model,
    history)`` with the per-epoch training MSE (in [0, 1] units), wall time and device."""
    if noisy_u8.shape != clean_u8.shape:
        raise ValueError(f"A denoiser trains on pairs: {tuple(noisy_u8.shape)} noisy images vs "
                         f"{tuple(clean_u8.shape)} clean ones.")
    params = dict(data=tensor_digest(noisy_u8, clean_u8), **asdict(s))

    def run():
        model, hist = _fit(noisy_u8, clean_u8, s, progress, desc)
        return {"state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
                "loss": torch.tensor(hist["loss"]), "seconds": torch.tensor(hist["seconds"]),
                "device": hist["device"]}

    st = cached_tensors("denoiser", params, run)
    model = DnCNN(noisy_u8.shape[1], s.depth, s.channels)
    model.load_state_dict(st["state_dict"])
    model = model.to(get_device()).eval()
    return model, {"loss": st["loss"].tolist(), "seconds": float(st["seconds"]),
                   "device": st["device"], "settings": asdict(s)}


@torch.no_grad()
def denoise(model, x_u8: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Denoised uint8 copies of ``x_u8`` (clamped to [0, 1] before quantisation)."""
    dev = next(model.parameters()).device
    out = [to_uint8(model(to_float(x_u8[i:i + batch_size].to(dev))).clamp(0, 1)).cpu()
           for i in range(0, len(x_u8), batch_size)]
    return torch.cat(out) if out else x_u8.clone()


# -- a trainer's generic denoiser (chapter 08's ``dncnn`` countermeasure) ----------------
# A trainer without the owner's generator cannot make (protected, natural) pairs. What they
# can have is a *blind* denoiser: DnCNN-B of Zhang et al. (2017), trained to remove Gaussian
# noise of unknown strength from natural photos. The photos here are the ones inside the
# scikit-image wheel (no download, never a training or test image of any dataset), cut into
# patches at several scales, as DnCNN was trained on patches of the BSD photos.
BLIND_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field",
                "immunohistochemistry", "retina", "camera", "coins", "brick", "grass",
                "gravel", "moon", "clock", "cell", "page", "text")


def _photo(name: str, channels: int) -> torch.Tensor:
    """One sample photo as a float (channels, H, W) tensor in 0..255; one channel is the
    luma that the grayscale countermeasure computes (torchvision's ITU-R 601 weights)."""
    import skimage.data
    from torchvision.transforms.v2 import functional as TF
    if channels not in (1, 3):
        raise ValueError(f"Photo patches come in 1 or 3 channels, not {channels}.")
    a = torch.from_numpy(getattr(skimage.data, name)().copy())
    a = a[..., None].expand(*a.shape, 3) if a.ndim == 2 else a[..., :3]
    x = a.permute(2, 0, 1).float()                       # (3, H, W), 0..255
    return TF.rgb_to_grayscale(x, num_output_channels=1) if channels == 1 else x


@functools.lru_cache(maxsize=4)
def _pyramid(h: int, w: int, channels: int, scales: tuple) -> tuple:
    """Every photo shrunk so that its short side is ``k`` patch sizes, for ``k`` in
    ``scales`` (uint8). Built once per process: each seed's patches are cut from it."""
    out = []
    for name in BLIND_PHOTOS:
        x = _photo(name, channels)
        for k in scales:
            r = k * max(h, w) / min(x.shape[1:])
            hw = (max(h, round(x.shape[1] * r)), max(w, round(x.shape[2] * r)))
            out.append(F.interpolate(x[None], size=hw, mode="bilinear", antialias=True,
                                     align_corners=False)[0].round().clamp(0, 255).to(torch.uint8))
    return tuple(out)


def photo_patches(n: int, size, channels: int, seed: int = 0,
                  scales=(2, 3, 4, 6)) -> torch.Tensor:
    """``n`` uint8 patches of ``size`` (``(H, W)`` or an int) cut from scikit-image's sample
    photos, each photo first shrunk so that its short side is ``k`` patch sizes for ``k`` in
    ``scales`` (small images show whole objects, as CIFAR's do), with random flips."""
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    g = torch.Generator().manual_seed(seed)
    pyramid = _pyramid(h, w, channels, tuple(scales))
    out = torch.empty(n, channels, h, w, dtype=torch.uint8)
    which = torch.randint(len(pyramid), (n,), generator=g)
    for i in range(n):
        p = pyramid[int(which[i])]
        top = int(torch.randint(p.shape[1] - h + 1, (1,), generator=g))
        left = int(torch.randint(p.shape[2] - w + 1, (1,), generator=g))
        patch = p[:, top:top + h, left:left + w]
        out[i] = patch.flip(-1) if torch.rand((), generator=g) < 0.5 else patch
    return out


def gaussian_pairs(clean_u8: torch.Tensor, sigma_max: float, seed: int = 0) -> torch.Tensor:
    """Noisy copies of ``clean_u8``: Gaussian noise of a standard deviation drawn per image
    from U[0, ``sigma_max``] (in [0, 1] units), saved as uint8 like any image file."""
    g = torch.Generator().manual_seed(seed)
    sigma = torch.rand(len(clean_u8), 1, 1, 1, generator=g) * sigma_max
    noise = torch.randn(clean_u8.shape, generator=g) * sigma
    return to_uint8(to_float(clean_u8) + noise)


def blind_denoiser(n: int, size, channels: int, sigma_max: float, s: DenoiserSettings,
                   progress: bool = True, desc: str = "blind DnCNN"):
    """A DnCNN trained to remove Gaussian noise (sigma up to ``sigma_max``) from ``n`` photo
    patches (:func:`photo_patches`, seeded by ``s.seed``): the denoiser a trainer can have
    without knowing the protection. Cached like :func:`train_denoiser`."""
    if not 0 < sigma_max <= 1:
        raise ValueError(f"sigma_max is in [0, 1] units (e.g. 8/255), not {sigma_max}.")
    clean = photo_patches(n, size, channels, seed=s.seed)
    return train_denoiser(gaussian_pairs(clean, sigma_max, seed=s.seed), clean, s, progress, desc)
