"""Hardened generators (chapter 9, beyond the paper): noise that keeps its class signal
through what a model trainer does to the images.

A trainer who augments with random crop and horizontal flip sees ``T(x + delta) = T(x) +
T(delta)``: the signal must survive a random shift and mirror of the noise. Three
variants, each one forward pass at protect time and each a registered protection:

``hardened-eot``
    ConfounderGAN's generator and objective (f must read the class from the noise a victim
    receives), with an *expectation over transforms*: f sees ``T(delta)`` for a fresh random
    crop + flip each step, and f itself is trained with crop + flip so that it can read
    shifted images. No labels at protect time.
``hardened-texture-label``
    The noise is a class *texture*: a learned tile per class, repeated over the image
    (period ``tile`` pixels), so a shift only changes its phase and a network that pools
    over space sees the same thing. Tiles are learned by min-min (as EMN, amortised): a
    small reader and the tiles both minimise the reader's loss on ``T(x + delta)``.
    Uses the label at protect time: legitimate where the owner has the labels (the
    in-distribution setting of Section 3).
``hardened-texture``
    The same tiles without labels: the owner's classifier f reads the class of ``x`` and the
    noise is the tiles mixed by f's probabilities. Its noise is as class-consistent as f's
    reading of the images (measured: ``label_agreement``).

Every variant respects ConfounderGAN's budget by default (``budget="hinge"``):
``|delta|_inf <= eps`` and the L2 hinge bound ``c`` of eq. 4 (projected, not penalised).
``budget="linf"`` keeps the L-infinity bound alone, the budget EMN and class-wise noise are
held to (registered as ``hardened-texture-label-linf``): its noise may reach twice the L2 bound
c of the profiles (half the corner norm), and chapter 9 reports each method's L2 beside its
accuracy.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace

import torch
import torch.nn as nn
import torch.nn.functional as F

from .augment import augment_batch
from .data import to_float, to_uint8
from .device import get_device
from .device import progress as progress_bar
from .models import Generator, freeze, l2_bound

VARIANTS = ("eot", "texture-label", "texture")
# "hinge": ConfounderGAN's L-inf bound and L2 bound c; "linf": the L-inf bound alone (EMN's)
BUDGETS = ("hinge", "linf")


@dataclass(frozen=True)
class HardenedSettings:
    """Everything that determines a hardened generator besides its data and f (the key)."""
    variant: str
    epochs: int
    eps: float
    c: float                          # L2 bound (eq. 4's hinge bound)
    lr: float = 1e-3
    batch_size: int = 64
    gen_width: int = 16               # eot: G's width
    transform: str = "flip+crop"      # what the expectation is taken over
    tile: int = 8                     # texture: period in pixels
    reader_width: int = 32            # texture: channels of the min-min reader
    temperature: float = 1.0          # texture: f's softmax temperature for the mixing

    @classmethod
    def from_profile(cls, profile, variant: str, eps: float, shape, dataset: str,
                     budget: str = "hinge", **kw) -> "HardenedSettings":
        """The profile's GAN budget (epochs, batch size, G's width) and ConfounderGAN's
        bounds (``budget="hinge"``), or the L-inf bound alone (``budget="linf"``: ``c`` is
        the L2 norm of the L-inf ball's corners, so the L2 projection never binds). The two
        texture variants share one training (``variant="texture"``): they differ only in
        where the class comes from at protect time."""
        if variant not in VARIANTS:
            raise ValueError(f"Unknown hardened variant {variant!r}. Known: {', '.join(VARIANTS)}.")
        if budget not in BUDGETS:
            raise ValueError(f"Unknown budget {budget!r}. Known: {', '.join(BUDGETS)} (hinge: "
                             f"ConfounderGAN's L-inf and L2 bounds; linf: the L-inf bound alone).")
        frac = profile.hinge_fraction if budget == "hinge" else 1.0
        base = cls(variant="texture" if variant == "texture-label" else variant,
                   epochs=profile.hardened_epochs or profile.gan_epochs_for(dataset), eps=eps,
                   c=frac * l2_bound(eps, shape),
                   batch_size=profile.batch_size, gen_width=profile.gen_width)
        return replace(base, **kw)


def project(noise: torch.Tensor, eps: float, c: float) -> torch.Tensor:
    """Into the L-inf ball of ``eps`` and the L2 ball of radius ``c`` (per image)."""
    noise = noise.clamp(-eps, eps)
    norm = noise.flatten(1).norm(dim=1).clamp_min(1e-12)
    return noise * (c / norm).clamp(max=1.0).view(-1, 1, 1, 1)


class TextureGenerator(nn.Module):
    """One learned tile per class, repeated over the image; the noise of an image is the
    tiles mixed by ``weights`` (one-hot labels, or f's probabilities), bounded by
    :func:`project`. ``classifier`` (optional, frozen) gives the weights where no label is
    passed."""

    def __init__(self, n_classes: int, channels: int, eps: float, c: float, tile: int = 8,
                 classifier: nn.Module | None = None, temperature: float = 1.0):
        super().__init__()
        self.channels, self.eps, self.c, self.tile = channels, float(eps), float(c), tile
        self.n_classes, self.temperature = n_classes, temperature
        self.tiles = nn.Parameter(torch.randn(n_classes, channels, tile, tile))
        self.classifier = classifier

    def weights(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is not None:
            return F.one_hot(y, self.n_classes).float()
        if self.classifier is None:
            raise ValueError("This texture generator has no classifier: pass the labels.")
        with torch.no_grad():
            return F.softmax(self.classifier(x).float() / self.temperature, dim=1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h, w = x.shape[-2:]
        reps = (-(-h // self.tile), -(-w // self.tile))
        field = torch.tanh(self.tiles).repeat(1, 1, *reps)[..., :h, :w]        # (K, C, H, W)
        mixed = torch.einsum("bk,kchw->bchw", self.weights(x, y), field)
        return project(self.eps * mixed, self.eps, self.c)


class Reader(nn.Module):
    """The min-min reader: a small CNN that pools over space (so it reads textures, not
    positions), standing in for the fresh victim who will learn from the data."""

    def __init__(self, channels: int, n_classes: int, width: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1, stride=2), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, n_classes))

    def forward(self, x):
        return self.net(x)


def train_hardened(x_u8: torch.Tensor, y: torch.Tensor, n_classes: int, s: HardenedSettings,
                   f: nn.Module | None = None, seed: int = 0, progress: bool = True):
    """Fit a hardened generator on the owner's ``(x_u8, y)``; returns ``(module, history)``.

    ``f``: the owner's classifier (frozen; for ``eot`` trained with crop + flip). Each epoch
    logs the objective, the accuracy with which the reader (texture) or f (eot) reads the
    label from transformed protected images or noise, and the noise norms.
    """
    dev = get_device()
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    C = x_u8.shape[1]
    if s.variant == "eot":
        if f is None:
            raise ValueError("hardened-eot needs the owner's classifier f.")
        G = Generator(C, s.eps, s.gen_width).to(dev)
        G.c = s.c
        groups = [{"params": list(G.parameters()), "lr": s.lr}]
        reader = None
    else:
        G = TextureGenerator(n_classes, C, s.eps, s.c, s.tile, None, s.temperature).to(dev)
        reader = Reader(C, n_classes, s.reader_width).to(dev)
        # the tiles pass through tanh: a larger step moves them as fast as the reader
        groups = [{"params": [G.tiles], "lr": 10 * s.lr},
                  {"params": list(reader.parameters()), "lr": s.lr}]
    opt = torch.optim.Adam(groups)
    n = len(x_u8)
    hist = []
    t_all = time.time()
    for ep in progress_bar(range(s.epochs), f"hardened-{s.variant}", progress):
        perm = torch.randperm(n, generator=g)
        tot = torch.zeros(3, device=dev)
        seen, t0 = 0, time.time()
        for i in range(0, n, s.batch_size):
            idx = perm[i:i + s.batch_size]
            if len(idx) < 2:
                continue
            x = to_float(x_u8[idx].to(dev))
            t = y[idx].to(dev)
            if s.variant == "eot":
                G.train()
                noise = project(G(x), s.eps, s.c)
                eff = (x + noise).clamp(0, 1) - x
                shown, _ = augment_batch(s.transform, eff, t, n_classes, g)
                out = f(shown)
            else:
                # in training the noise follows the labels (the owner's data); without
                # labels, f's reading mixes the tiles at protect time only
                reader.train()
                noise = G(x, t)
                xp, _ = augment_batch(s.transform, (x + noise).clamp(0, 1), t, n_classes, g)
                out = reader(xp)
            loss = F.cross_entropy(out.float(), t)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            b = len(idx)
            with torch.no_grad():
                tot += torch.stack([loss.detach() * b, (out.argmax(1) == t).float().sum(),
                                    noise.flatten(1).norm(dim=1).sum()])
            seen += b
        row = dict(zip(("loss", "read_acc", "noise_l2"), (tot / max(1, seen)).tolist()))
        row.update(epoch=ep + 1, seconds=round(time.time() - t0, 2))
        hist.append(row)
    return freeze(G), hist


@torch.no_grad()
def protect_hardened(G: nn.Module, x_u8: torch.Tensor, y: torch.Tensor | None = None,
                     batch_size: int = 256) -> torch.Tensor:
    """``clamp(x + noise)`` as uint8; ``y`` only for the label-conditioned texture."""
    dev = next(G.parameters()).device
    out = []
    for i in range(0, len(x_u8), batch_size):
        x = to_float(x_u8[i:i + batch_size].to(dev))
        if isinstance(G, TextureGenerator):
            noise = G(x, None if y is None else y[i:i + batch_size].to(dev))
        else:
            noise = project(G(x), G.eps, G.c)
        out.append(to_uint8(x + noise).cpu())
    return torch.cat(out) if out else x_u8.clone()

