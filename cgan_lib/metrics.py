"""Imperceptibility and noise-structure metrics, and the gradient statistics of Appendix A."""
from __future__ import annotations

import torch

from .data import to_float


def _unit(x: torch.Tensor) -> torch.Tensor:
    """Images in [0, 1]: uint8 tensors are scaled, floating ones (already in [0, 1], e.g. a
    16-bit photo read at full depth) are taken as they are."""
    return x.float() if x.is_floating_point() else to_float(x)


def noise_of(protected_u8: torch.Tensor, clean_u8: torch.Tensor) -> torch.Tensor:
    """The noise a victim actually receives, in [0, 1] units."""
    return to_float(protected_u8) - to_float(clean_u8)


def linf(noise: torch.Tensor) -> torch.Tensor:
    return noise.flatten(1).abs().max(1).values


def l2(noise: torch.Tensor) -> torch.Tensor:
    return noise.flatten(1).norm(dim=1)


def psnr(a_u8: torch.Tensor, b_u8: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB (inf where the images are identical); uint8 or [0, 1] floats."""
    mse = (_unit(a_u8) - _unit(b_u8)).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(1.0 / mse)


def mean_psnr(a_u8: torch.Tensor, b_u8: torch.Tensor) -> float:
    """Mean per-image PSNR (dB) over the images that differ (identical ones are inf)."""
    p = psnr(a_u8, b_u8)
    return float(p[torch.isfinite(p)].mean()) if torch.isfinite(p).any() else float("inf")


def ssim(a_u8: torch.Tensor, b_u8: torch.Tensor, window: int = 7) -> torch.Tensor:
    """Per-image SSIM (Wang et al. 2004; kornia's, Gaussian window sigma 1.5, valid
    padding), averaged over pixels and channels; uint8 or [0, 1] floats."""
    import kornia
    return kornia.metrics.ssim(_unit(a_u8), _unit(b_u8), window,
                               padding="valid").flatten(1).mean(1)


def imperceptibility(protected_u8, clean_u8) -> dict:
    """Mean L-inf (in /255 units), L2, PSNR and SSIM of protected versus clean images."""
    n = noise_of(protected_u8, clean_u8)
    return {"linf_255": float(linf(n).max() * 255), "l2": float(l2(n).mean()),
            "psnr_db": mean_psnr(protected_u8, clean_u8),
            "ssim": float(ssim(protected_u8, clean_u8).mean())}


def class_wise_fraction(noise: torch.Tensor, y: torch.Tensor) -> float:
    """Share of the noise energy that is its class's mean pattern.

    1.0: every image of a class gets the same noise (class-wise noise, like CWN); near 0:
    the noise of each image is its own.
    """
    flat = noise.flatten(1)
    means = torch.zeros(int(y.max()) + 1, flat.shape[1])
    means.index_add_(0, y, flat)
    means /= torch.bincount(y, minlength=len(means)).clamp(min=1).unsqueeze(1).float()
    return float(means[y].pow(2).sum() / flat.pow(2).sum().clamp(min=1e-12))


def image_correlation(noise: torch.Tensor, clean_u8: torch.Tensor) -> float:
    """Mean per-image Pearson correlation between the noise and the image."""
    a = noise.flatten(1)
    b = to_float(clean_u8).flatten(1)
    a = a - a.mean(1, keepdim=True)
    b = b - b.mean(1, keepdim=True)
    r = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp(min=1e-12)
    return float(r.mean())


def noise_structure(protected_u8, clean_u8, y) -> dict:
    n = noise_of(protected_u8, clean_u8)
    return {"class_wise_fraction": class_wise_fraction(n, y),
            "image_correlation": image_correlation(n, clean_u8)}
