"""The losses of ConfounderGAN (Section 4.3, equations 2-5), as named functions.

Signs: the paper writes the discriminator objective (eq. 2) as a quantity D *ascends*;
here every function returns a loss to *minimise*.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def discriminator_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Eq. 2, negated: ``-[log D(x) + log(1 - D(x + G(x)))]`` from D's logits."""
    return (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
            + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))


def generator_adversarial_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """G's part of eq. 2 in the usual non-saturating form ``-log D(x + G(x))``."""
    return F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))


def confounder_loss(f, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Eq. 3: ``CE(f(G(x)), t)``, the frozen classifier f applied to the noise *alone*.

    Not ``f(x + G(x))``: f already classifies x well, so that loss would be minimised by
    ``G(x) = 0`` (Section 4.3).
    """
    return F.cross_entropy(f(noise), t)


def hinge_loss(noise: torch.Tensor, c: float) -> torch.Tensor:
    """Eq. 4: ``mean(max(0, ||G(x)||_2 - c))`` over the batch, the L2 norm per image."""
    norms = noise.flatten(1).norm(p=2, dim=1)
    return F.relu(norms - c).mean()


def generator_objective(f, noise, t, d_fake, c: float, alpha: float,
                        adv_weight: float = 1.0) -> dict:
    """Eq. 5 from G's side: confounder + alpha * hinge + adv_weight * adversarial.

    Returns every term (for the per-epoch log) and ``total``, the one to minimise.
    """
    conf = confounder_loss(f, noise, t)
    hinge = hinge_loss(noise, c)
    adv = generator_adversarial_loss(d_fake)
    return {"total": conf + alpha * hinge + adv_weight * adv,
            "confounder": conf, "hinge": hinge, "adversarial": adv}
