"""What a model trainer does to downloaded data before training on it (chapter 08).

Later work broke unlearnable examples with cheap transforms of the training images (Image
Shortcut Squeezing, Liu et al. 2023; APBench, Qin et al. 2023): grayscale, JPEG
compression, bit-depth reduction. As there, each countermeasure here transforms the
*training* images once (uint8 in, uint8 out), composes with any augmentation of the
victim's trainer, and leaves the clean test set as it is. Adversarial training is a
trainer setting instead (``TrainSettings.adv_eps``, see :mod:`cgan_lib.victim`).

Names: ``none``, ``grayscale``, ``jpeg-Q`` (quality Q in 1..100, libjpeg through
torchvision's encoder and decoder: a real compression, not an approximation), ``bdr-B``
(B bits per channel), ``dncnn`` (a blind DnCNN denoiser trained on Gaussian noise over photo
patches, :func:`cgan_lib.denoiser.blind_denoiser`: the trainer's generic denoiser, not
chapter 07's attacker who owns the generator) and ``at-E`` (PGD adversarial training with an
L-inf budget of E/255).
"""
from __future__ import annotations

import torch

LABELS = {"none": "no countermeasure", "grayscale": "grayscale", "bdr": "bit-depth reduction",
          "dncnn": "blind DnCNN"}


def grayscale(x_u8: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma, repeated over the channels (the model keeps its input shape)."""
    from torchvision.transforms.v2 import functional as TF
    if x_u8.shape[1] == 1:
        return x_u8.clone()
    return TF.rgb_to_grayscale(x_u8, num_output_channels=x_u8.shape[1])


def jpeg(x_u8: torch.Tensor, quality: int) -> torch.Tensor:
    """Encode every image as a JPEG of ``quality`` and decode it again (libjpeg)."""
    from torchvision.io import decode_jpeg, encode_jpeg
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"JPEG quality must be in 1..100, not {quality}.")
    imgs = [t.contiguous() for t in x_u8.cpu()]
    out = decode_jpeg(encode_jpeg(imgs, quality=int(quality)))
    return torch.stack(out).to(x_u8.device)


def bit_depth(x_u8: torch.Tensor, bits: int) -> torch.Tensor:
    """Round every channel to ``2**bits`` evenly spaced levels of [0, 255]."""
    if not 1 <= int(bits) <= 8:
        raise ValueError(f"Bit depth must be in 1..8, not {bits}.")
    q = 2 ** int(bits) - 1
    return (x_u8.float() / 255 * q).round().div(q).mul(255).round().to(torch.uint8)


def label(name: str) -> str:
    """How a countermeasure reads in a table: ``jpeg-10`` -> ``JPEG-10``."""
    kind, _, arg = name.partition("-")
    return {"jpeg": f"JPEG-{arg}", "bdr": f"bit depth {arg}",
            "at": f"adv. training {arg}/255"}.get(kind, LABELS.get(name, name))


def split(name: str) -> tuple[str, float]:
    """``(data countermeasure, adversarial budget)`` of ``name``: ``at-8`` -> ``("none",
    8/255)``, ``jpeg-10`` -> ``("jpeg-10", 0.0)``."""
    kind, _, arg = str(name).partition("-")
    if kind == "at":
        if not arg.isdigit() or not 0 < int(arg) <= 64:
            raise ValueError(f"Adversarial training is at-E with E/255 in 1..64, not {name!r}.")
        return "none", int(arg) / 255
    return name, 0.0


def applies_to(name: str, channels: int) -> bool:
    """Whether ``name`` changes anything on images of ``channels`` (grayscale does nothing
    to grayscale images)."""
    return not (name == "grayscale" and channels == 1)


def apply(name: str, x_u8: torch.Tensor, denoiser=None) -> torch.Tensor:
    """The training images as the trainer keeps them after countermeasure ``name``
    (``dncnn`` needs the trained ``denoiser``: ``Experiment.countermeasure`` supplies it)."""
    if x_u8.dtype != torch.uint8:
        raise TypeError(f"Countermeasures take uint8 images, not {x_u8.dtype}.")
    kind, _, arg = str(name).partition("-")
    if name in ("none", None):
        return x_u8.clone()
    if name == "grayscale":
        return grayscale(x_u8)
    if kind in ("jpeg", "bdr") and arg.isdigit():
        return jpeg(x_u8, int(arg)) if kind == "jpeg" else bit_depth(x_u8, int(arg))
    if name == "dncnn":
        if denoiser is None:
            raise ValueError("dncnn needs a trained denoiser: pass denoiser= (e.g. "
                             "cgan_lib.denoiser.blind_denoiser) or use Experiment.countermeasure.")
        from .denoiser import denoise
        return denoise(denoiser, x_u8)
    if kind == "at":
        raise ValueError(f"{name} is a trainer setting, not a data transform: use split().")
    raise ValueError(f"Unknown countermeasure {name!r}. Known: none, grayscale, jpeg-Q "
                     f"(quality 1..100, e.g. jpeg-10), bdr-B (bits 1..8, e.g. bdr-2), dncnn, at-E "
                     f"(adversarial training, E/255).")


def survival(natural: dict, protected: dict, margin: float = 0.10) -> dict:
    """Which countermeasures a protection survives, from victims' accuracies per seed.

    ``natural`` and ``protected`` map each countermeasure to the victims' clean test
    accuracies (fractions), seed by seed in the same order. Per countermeasure: the gap
    natural - protected (mean and std over seeds, :func:`cgan_lib.artifacts.spread`), the
    protected victims' mean accuracy, and ``survives``: the gap net of ``margin`` *holds* by
    the rule of every claim in the book (:func:`cgan_lib.paper.verdict`: every seed more
    than ``margin`` below its natural victim, the mean beyond the std, two seeds at least).
    ``worst`` is the countermeasure where the protected victims do best (the trainer's best
    choice).
    """
    from .artifacts import spread
    from .paper import HOLDS, verdict
    if set(natural) != set(protected):
        raise ValueError(f"natural and protected victims cover different countermeasures: "
                         f"{sorted(natural)} vs {sorted(protected)}.")
    if not protected:
        raise ValueError("No countermeasures given.")
    rows = {}
    for c, mine in protected.items():
        nat = natural[c]
        if len(nat) != len(mine) or not mine:
            raise ValueError(f"{c}: {len(nat)} natural and {len(mine)} protected victims; "
                             f"one of each per seed is needed.")
        gaps = [n - v for n, v in zip(nat, mine)]
        mu, sd = spread(gaps)
        rows[c] = dict(gap_mean=mu, gap_std=sd, acc_mean=spread(mine)[0],
                       survives=verdict([g - margin for g in gaps]) == HOLDS)
    worst = max(rows, key=lambda c: rows[c]["acc_mean"])
    return dict(rows=rows, worst=worst, survives=[c for c in rows if rows[c]["survives"]])
