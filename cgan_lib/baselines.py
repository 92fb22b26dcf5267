"""Baselines the paper compares against, each returning protected uint8 images.

* class-wise patches (CWP, Section 4.2, Appendix G.2),
* class-wise noise (CWN, Section 4.2),
* error-minimizing noise (EMN, Huang et al. 2021), sample-wise min-min (Appendix G.4).

All of them, like ConfounderGAN, add the noise to the image and *then* clamp to [0, 1]
(clamping the noise first would lose its negative half), and quantise to uint8 as a
published PNG would.
"""
from __future__ import annotations

import time
from pathlib import Path
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F

from .device import progress as progress_bar
from .data import to_float, to_uint8
from .device import get_device
from .victim import TrainSettings, _autocast, new_classifier

# Appendix G.2, in the paper's order (its list has 21 entries; "(0,0,240,0)" read as (0,0,240)).
CWP_COLOURS = [(220, 0, 0), (230, 0, 0), (240, 0, 0), (250, 0, 0), (0, 220, 0), (0, 230, 0),
               (0, 240, 0), (0, 250, 0), (0, 0, 220), (0, 0, 230), (0, 0, 240), (0, 0, 250),
               (220, 220, 0), (230, 230, 0), (240, 240, 0), (250, 250, 0), (220, 0, 220),
               (230, 0, 230), (240, 0, 240), (250, 0, 250), (250, 250, 250)]


def patch_size_for(image_size: int) -> int:
    """The paper's 32-pixel patch on 224-pixel images, scaled to ``image_size``."""
    return max(2, round(32 * image_size / 224))


def class_wise_patches(x_u8: torch.Tensor, y: torch.Tensor, n_classes: int,
                       size: int | None = None) -> torch.Tensor:
    """Paste a class-coloured square in the lower-right corner of every image.

    Colour images use the paper's colours; grayscale images (which cannot tell
    (220,0,0) from (0,220,0) apart) use evenly spaced gray levels from 40 to 255.
    """
    c, h, w = x_u8.shape[1:]
    size = size or patch_size_for(min(h, w))
    if c == 3:
        if n_classes > len(CWP_COLOURS):
            raise ValueError(f"CWP defines {len(CWP_COLOURS)} colours, not {n_classes}.")
        colours = torch.tensor(CWP_COLOURS[:n_classes], dtype=torch.uint8)
    else:
        levels = torch.linspace(40, 255, n_classes).round().to(torch.uint8)
        colours = levels.view(-1, 1).expand(n_classes, c)
    out = x_u8.clone()
    out[:, :, h - size:, w - size:] = colours[y].view(-1, c, 1, 1)
    return out


def class_wise_noise_patterns(n_classes: int, shape, eps: float, seed: int = 0) -> torch.Tensor:
    """One random pattern of +-eps per class."""
    g = torch.Generator().manual_seed(seed)
    signs = torch.randint(0, 2, (n_classes, *shape), generator=g).float() * 2 - 1
    return signs * eps


def class_wise_noise(x_u8: torch.Tensor, y: torch.Tensor, n_classes: int, eps: float,
                     seed: int = 0) -> torch.Tensor:
    """CWN: add the class's +-eps pattern to every image, clamp, quantise."""
    pats = class_wise_noise_patterns(n_classes, x_u8.shape[1:], eps, seed)
    return to_uint8(to_float(x_u8) + pats[y])


@dataclass(frozen=True)
class EMNSettings:
    """Everything that determines EMN's noise besides the images (the cache key)."""
    eps: float
    arch: str = "resnet18"
    width: float = 1.0
    steps: int = 20                 # inner PGD steps per round
    step_size: float = 0.003        # inner step (G.4: 0.003)
    train_steps: int = 10           # outer SGD steps of the source model per round
    lr: float = 0.003               # outer learning rate (G.4: 0.003; Huang et al.: 0.1)
    stop_error: float = 0.01
    max_rounds: int = 20
    batch_size: int = 128
    weight_decay: float = 5e-4
    # images per batch of the noise update (per-image steps: a speed setting, not a result)
    noise_batch_size: int = 512
    seed: int = 0
    stem_stride: int = 1            # the source model's stem (models.make_classifier)

    def key(self) -> dict:
        """The settings as a cache key; a stem stride of 1 is left out, so the keys of runs
        from before it existed stay valid."""
        d = asdict(self)
        if self.stem_stride == 1:
            d.pop("stem_stride")
        return d

    @classmethod
    def from_profile(cls, profile, eps: float, seed: int = 0, **kw) -> "EMNSettings":
        return replace(cls(eps=eps, arch=profile.arch, width=profile.width,
                           stem_stride=profile.stem_stride,
                           steps=profile.emn_steps, step_size=profile.emn_step_size,
                           train_steps=profile.emn_train_steps, lr=profile.emn_lr,
                           stop_error=profile.emn_stop_error, max_rounds=profile.emn_max_rounds,
                           batch_size=profile.batch_size, weight_decay=profile.weight_decay,
                           seed=seed), **kw)


def error_minimizing_noise(x_u8: torch.Tensor, y: torch.Tensor, n_classes: int,
                           s: EMNSettings, progress: bool = True, checkpoint=None,
                           stop_after: int | None = None):
    """Sample-wise error-minimizing noise (Huang et al. 2021), by bi-level min-min.

    Repeats: ``train_steps`` SGD steps of a source model on ``clamp(x + delta)``; stop if its
    training error on the perturbed set is below ``stop_error``; else ``steps`` PGD steps
    that *minimise* the loss w.r.t. delta (projected to the eps ball) for every image.
    Returns ``(protected_uint8, info)`` with the rounds run, the final error and whether
    the stop condition was reached.

    ``checkpoint``: a file written atomically after every round (noise, source model,
    optimiser, data order, random state), so that a run stopped by a disconnect or the end
    of a session resumes at its last round and ends exactly as an unbroken run would; it is
    removed when the run is done. ``stop_after`` ends the call after that many rounds of
    this call, leaving the checkpoint (tests; splitting a long run); it returns
    ``(None, info)`` then.
    """
    from .artifacts import atomic_save, check_deadline, load_checkpoint, make_key
    from .victim import tensor_digest
    dev = get_device()
    eps = s.eps
    torch.manual_seed(s.seed)
    g = torch.Generator().manual_seed(s.seed)
    x = to_float(x_u8).to(dev)
    y = y.to(dev)
    n = len(x)
    delta = ((torch.rand(x.shape, generator=g) * 2 - 1) * eps).to(dev)
    model = new_classifier(x_u8, n_classes, TrainSettings(arch=s.arch, width=s.width,
                                                          stem_stride=s.stem_stride)).to(dev)
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=s.lr, momentum=0.9, weight_decay=s.weight_decay)
    t0 = time.time()
    perm, pos = torch.randperm(n, generator=g), 0
    errors, stopped = [], False
    bs = s.batch_size
    start, before = 0, 0.0                  # rounds and seconds of earlier calls
    if checkpoint is not None:   # what the checkpoint must belong to (hashing only then)
        ident = make_key("emn-rounds", dict(data=tensor_digest(x_u8, y), n_classes=n_classes,
                                            **s.key()))
    if checkpoint is not None and Path(checkpoint).is_file():
        st = load_checkpoint(checkpoint)
        if st.get("key") != ident:
            raise ValueError(f"{checkpoint} holds another EMN run (key {st.get('key')}, "
                             f"expected {ident}); delete it to start this one afresh.")
        delta = st["delta"].to(dev)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        perm, pos, errors = st["perm"], int(st["pos"]), list(st["errors"])
        g.set_state(st["generator"])
        start, before = int(st["round"]), float(st["seconds"])
    done_now = 0
    bar = progress_bar(range(start, s.max_rounds), "EMN", progress)
    for rnd in bar:
        model.train()
        for _ in range(s.train_steps):
            if pos + bs > n:
                perm, pos = torch.randperm(n, generator=g), 0
            idx = perm[pos:pos + bs].to(dev)
            pos += bs
            xb = (x[idx] + delta[idx]).clamp(0, 1)
            with _autocast(dev):   # bf16 where the victims train in bf16 (one engine)
                out = model(xb.contiguous(memory_format=torch.channels_last))
            loss = F.cross_entropy(out.float(), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            wrong = torch.zeros((), device=dev, dtype=torch.long)
            for i in range(0, n, 512):
                xb = (x[i:i + 512] + delta[i:i + 512]).clamp(0, 1)
                with _autocast(dev):
                    wrong += (model(xb).argmax(1) != y[i:i + 512]).sum()
        errors.append(wrong.item() / n)
        bar.set_postfix(error=f"{errors[-1]:.3f}")
        if errors[-1] < s.stop_error:
            stopped = True
            break
        # each image's step depends on that image alone (the model is in eval mode and the
        # loss is summed, so the sign of its gradient does not depend on the batch): the
        # noise is updated in large batches, about 15% faster on a CPU than the trainer's
        pb = s.noise_batch_size
        for i in range(0, n, pb):
            xb, yb = x[i:i + pb], y[i:i + pb]
            d = delta[i:i + pb]
            for _ in range(s.steps):
                d.requires_grad_(True)
                xin = (xb + d).clamp(0, 1).contiguous(memory_format=torch.channels_last)
                with _autocast(dev):
                    out = model(xin)
                loss = F.cross_entropy(out.float(), yb, reduction="sum")
                grad, = torch.autograd.grad(loss, d)
                d = (d.detach() - s.step_size * grad.sign()).clamp(-eps, eps)
            delta[i:i + pb] = d.detach()
        done_now += 1
        if checkpoint is not None:
            atomic_save({"key": ident, "round": rnd + 1, "delta": delta.cpu(),
                         "model": model.state_dict(), "opt": opt.state_dict(), "perm": perm,
                         "pos": pos, "errors": errors, "generator": g.get_state(),
                         "seconds": before + time.time() - t0}, checkpoint)
            if rnd + 1 < s.max_rounds:   # a stop time ends the run here; the checkpoint resumes it
                check_deadline(f"EMN round {rnd + 2} of at most {s.max_rounds} ({Path(checkpoint).name})")
        if stop_after is not None and done_now >= stop_after and rnd + 1 < s.max_rounds:
            return None, dict(rounds=len(errors), errors=errors, partial=True)
    info = dict(rounds=len(errors), errors=errors, final_error=errors[-1] if errors else None,
                stopped=stopped, seconds=round(before + time.time() - t0, 2))
    if checkpoint is not None and Path(checkpoint).is_file():
        Path(checkpoint).unlink()
    return to_uint8(x + delta).cpu(), info
