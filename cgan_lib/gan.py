"""Algorithm 1 of the paper: minibatch training of ConfounderGAN, resumable.

Each epoch, for each minibatch (x, t):

1. D ascends eq. 2 (here: descends :func:`~cgan_lib.losses.discriminator_loss`) on the
   original x against the protected ``clamp(x + G(x), 0, 1)``;
2. G descends ``confounder + alpha * hinge + adv_weight * adversarial`` (eq. 5).

What f sees: eq. 3 writes ``f(G(x))``, the raw noise (``f_input="raw"``, the paper
profile). The reduced profiles feed f the noise a victim actually receives,
``clamp(x + G(x), 0, 1) - x`` (``f_input="effective"``): it equals ``G(x)`` wherever the
clamp does not bite, and where it does (black or white pixels) the part a victim never
sees cannot carry the label. f normalises its input itself, so the noise is fed in image
units, not rescaled.

A checkpoint is written atomically after every epoch. Each epoch draws its randomness
from ``(seed, epoch)`` alone, so a run killed and resumed ends with the same weights as an
uninterrupted run on the CPU.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from .artifacts import atomic_save, cache_dir, check_deadline, load_checkpoint, make_key
from .data import ImageData, to_float, to_uint8
from .device import device_name, get_device
from .device import progress as progress_bar
from .losses import discriminator_loss, generator_objective
from .models import Discriminator, Generator, l2_bound
from .profiles import epsilon_for
from .victim import tensor_digest

CHECKPOINT_KIND = "confoundergan-generator"


class NotAGeneratorError(ValueError):
    pass


def _make_optim(params, kind: str, lr: float):
    if kind == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999))
    raise ValueError(f"Unknown GAN optimiser {kind!r}: use 'sgd' (the paper's) or 'adam'.")


@dataclass(frozen=True)
class GANSettings:
    """Everything that determines a trained generator besides its data and f (the key)."""
    epochs: int
    eps: float
    c: float                      # the hinge bound of eq. 4
    optimizer: str = "sgd"
    lr: float = 0.025
    d_lr: float = 0.025
    alpha: float = 0.001
    adv_weight: float = 1.0
    gen_width: int = 32
    batch_size: int = 128
    f_input: str = "raw"

    @classmethod
    def from_profile(cls, profile, data: ImageData, eps: float | None = None,
                     **overrides) -> "GANSettings":
        eps = epsilon_for(data.name) if eps is None else eps
        shape = (data.channels, *data.image_size)
        base = cls(epochs=profile.gan_epochs_for(data.name), optimizer=profile.gan_optimizer,
                   lr=profile.gan_lr, d_lr=profile.d_lr, alpha=profile.alpha,
                   adv_weight=profile.adv_weight, c=profile.hinge_fraction * l2_bound(eps, shape),
                   eps=eps, gen_width=profile.gen_width, batch_size=profile.batch_size,
                   f_input=profile.f_input)
        return replace(base, **overrides)


def gan_config(data: ImageData, profile, eps: float | None = None, **overrides) -> dict:
    """The settings of :class:`GANSettings` as a dict (what a checkpoint stores)."""
    return asdict(GANSettings.from_profile(profile, data, eps, **overrides))


def _build(cfg, channels):
    G = Generator(channels, cfg["eps"], cfg["gen_width"])
    D = Discriminator(channels, cfg["gen_width"])
    return G, D


def train_confoundergan(data: ImageData, f, profile, seed: int = 0, eps: float | None = None,
                        checkpoint: str | Path | None = None, progress: bool = True,
                        stop_after: int | None = None, **overrides):
    """Train G and D with Algorithm 1 on ``data.train_x``; return ``(G, history)``.

    ``checkpoint``: where the per-epoch checkpoint lives (default: in the cache, under a
    key of data, f and settings). An existing checkpoint is resumed; a finished one is
    returned at once. ``stop_after`` ends the call after that many epochs of this call
    (for tests and for splitting a long run), leaving the checkpoint to resume.
    """
    dev = get_device()
    cfg = gan_config(data, profile, eps, **overrides)
    f_digest = tensor_digest(*[p.detach().cpu() for p in f.state_dict().values()])
    key = make_key("generator", dict(cfg, data=tensor_digest(data.train_x, data.train_y),
                                     f=f_digest, seed=seed))
    ckpt = Path(checkpoint) if checkpoint else cache_dir() / "generator" / f"{key}.pt"
    torch.manual_seed(seed)          # the initial weights depend on the seed alone
    G, D = _build(cfg, data.channels)
    G.to(dev), D.to(dev)
    optG = _make_optim(G.parameters(), cfg["optimizer"], cfg["lr"])
    optD = _make_optim(D.parameters(), cfg["optimizer"], cfg["d_lr"])
    # G: cosine without restart; D: constant lr (Appendix G.3)
    schedG = torch.optim.lr_scheduler.CosineAnnealingLR(optG, T_max=cfg["epochs"])
    history, start = [], 0
    if ckpt.is_file():
        st = load_checkpoint(ckpt)
        if st.get("kind") != CHECKPOINT_KIND or st.get("key") != key:
            raise NotAGeneratorError(
                f"{ckpt} holds a different run (key {st.get('key')}, expected {key}); "
                f"delete it or choose another checkpoint path.")
        G.load_state_dict(st["G"]), D.load_state_dict(st["D"])
        optG.load_state_dict(st["optG"]), optD.load_state_dict(st["optD"])
        schedG.load_state_dict(st["schedG"])
        history, start = list(st["history"]), int(st["epoch"])
    meta = dict(dataset=data.name, classes=list(data.classes), channels=data.channels,
                image_size=list(data.image_size), eps=cfg["eps"], n_train=len(data.train_x))
    f.eval()
    n = len(data.train_x)
    bs = cfg["batch_size"]
    todo = range(start, cfg["epochs"])
    if stop_after is not None:
        todo = range(start, min(cfg["epochs"], start + stop_after))
    bar = progress_bar(todo, "ConfounderGAN", progress)
    for ep in bar:
        torch.manual_seed(seed * 100003 + ep)
        g = torch.Generator().manual_seed(seed * 100003 + ep)
        perm = torch.randperm(n, generator=g)
        G.train(), D.train()
        keys = ("d_loss", "confounder", "hinge", "adversarial", "d_acc_real",
                "d_acc_protected", "noise_acc", "noise_l2")
        sums = torch.zeros(len(keys), device=dev)     # accumulated on the device
        linf = torch.zeros((), device=dev)
        seen = 0
        t0 = time.time()
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            if len(idx) < 2:
                continue
            x = to_float(data.train_x[idx].to(dev))
            t = data.train_y[idx].to(dev)
            # 1. discriminator step (eq. 2)
            with torch.no_grad():
                x_prot = (x + G(x)).clamp(0, 1)
            d_real, d_fake = D(x), D(x_prot)
            d_loss = discriminator_loss(d_real, d_fake)
            optD.zero_grad(set_to_none=True)
            d_loss.backward()
            optD.step()
            # 2. generator step (eqs. 3-5)
            noise = G(x)
            x_prot = (x + noise).clamp(0, 1)
            eff = x_prot - x
            shown = eff if cfg["f_input"] == "effective" else noise
            terms = generator_objective(f, shown, t, D(x_prot), cfg["c"], cfg["alpha"],
                                        cfg["adv_weight"])
            optG.zero_grad(set_to_none=True)
            terms["total"].backward()
            optG.step()
            b = len(idx)
            with torch.no_grad():
                sums += torch.stack([
                    d_loss.detach() * b, terms["confounder"].detach() * b,
                    terms["hinge"].detach() * b, terms["adversarial"].detach() * b,
                    (d_real > 0).float().sum(), (d_fake < 0).float().sum(),
                    (f(eff).argmax(1) == t).float().sum(), eff.flatten(1).norm(dim=1).sum()])
                linf = torch.maximum(linf, eff.abs().max())
            seen += b
        schedG.step()
        row = dict(zip(keys, (sums / max(1, seen)).tolist()), noise_linf=linf.item())
        row.update(epoch=ep + 1, seconds=round(time.time() - t0, 2), lr=optG.param_groups[0]["lr"])
        history.append(row)
        bar.set_postfix(noise_acc=f"{row['noise_acc']:.3f}", conf=f"{row['confounder']:.3f}")
        atomic_save({"kind": CHECKPOINT_KIND, "key": key, "epoch": ep + 1, "config": cfg,
                     "meta": meta, "G": G.state_dict(), "D": D.state_dict(),
                     "optG": optG.state_dict(), "optD": optD.state_dict(),
                     "schedG": schedG.state_dict(), "history": history,
                     "device": device_name(dev)}, ckpt)
        if ep + 1 < cfg["epochs"]:    # a stop time ends the run here; the checkpoint resumes it
            check_deadline(f"ConfounderGAN epoch {ep + 2} of {cfg['epochs']} ({ckpt.name})")
    G.eval()
    G.checkpoint_path = ckpt
    G.meta = meta
    return G, history


def save_generator(G: Generator, path: str | Path, meta: dict, history=None) -> Path:
    """Write a self-describing generator checkpoint for :func:`load_generator` / ``protect``."""
    return atomic_save({"kind": CHECKPOINT_KIND, "G": G.state_dict(), "meta": meta,
                        "config": {"eps": G.eps, "gen_width": G.width, "channels": G.channels},
                        "history": history or []}, path)


def load_generator(path: str | Path, device=None) -> Generator:
    """Load a generator from a checkpoint (training or exported), ``weights_only=True``."""
    st = load_checkpoint(path)
    if not isinstance(st, dict) or st.get("kind") != CHECKPOINT_KIND or "G" not in st:
        raise NotAGeneratorError(
            f"{path} is not a ConfounderGAN generator checkpoint (expected a file written by "
            f"cgan_lib's train_confoundergan or save_generator).")
    meta = st["meta"]
    G = Generator(meta["channels"], st["config"]["eps"], st["config"]["gen_width"])
    G.load_state_dict(st["G"])
    G.meta = meta
    G.checkpoint_path = Path(path)
    return G.to(device or get_device()).eval()


@torch.no_grad()
def protect_tensor(G: Generator, x_u8: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Protected images ``clamp(x + G(x), 0, 1)``, quantised to uint8 as a PNG stores them."""
    G.eval()
    dev = next(G.parameters()).device
    out = []
    for i in range(0, len(x_u8), batch_size):
        x = to_float(x_u8[i:i + batch_size].to(dev))
        out.append(to_uint8(x + G(x)).cpu())
    return torch.cat(out) if out else x_u8.clone()
