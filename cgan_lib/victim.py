"""The model trainer's side: train a fresh model h on (protected) data, test it on clean data.

Appendix G.5: SGD, momentum 0.9, initial lr 0.025, cosine schedule without restart, the
profile's number of epochs (90 in the paper). Weight decay and batch size are not given
in the paper; the profile holds them (5e-4 and 128, the values of Huang et al. 2021).

The trainer works as a real one would, with only what it downloaded:

* it normalises with the mean and std of its own training data;
* it holds out ``val_fraction`` of that data (so: protected data) as a validation set and
  picks the early-stopping epoch by *validation* accuracy (Appendix C); the clean test
  accuracy at that epoch is ``early_stop_test_acc``. Nothing is selected by test accuracy.

One training step serves the victim, the classifier f and (through :func:`sgd_for`) the
EMN source model: the data live as uint8 tensors on the device, augmentation runs on whole
batches on the device, and statistics accumulate on the device (no host synchronisation
per step). The step runs with channels_last, in bf16 autocast on CUDA and on CPUs that
compute bf16 natively (:func:`cgan_lib.device.uses_bf16`; ``CGAN_PRECISION=fp32`` to
turn it off).
"""
from __future__ import annotations

import contextlib
import hashlib
import time
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F

from .artifacts import cached_json, cached_tensors
from .augment import augment_batch
from .data import mean_std, to_float
from .device import device_name, get_device, precision_key, uses_bf16
from .device import progress as progress_bar
from .models import freeze, make_classifier


def tensor_digest(*ts: torch.Tensor) -> str:
    """A content hash of tensors: part of every cache key that depends on data."""
    h = hashlib.sha1()
    for t in ts:
        t = t.detach().cpu().contiguous()
        h.update(str((tuple(t.shape), str(t.dtype))).encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class TrainSettings:
    """Everything that determines a trained classifier besides its data (the cache key)."""
    arch: str = "resnet18"
    width: float = 1.0
    epochs: int = 90
    lr: float = 0.025
    batch_size: int = 128
    weight_decay: float = 5e-4
    aug: str = "none"
    val_fraction: float = 0.1
    seed: int = 0
    pretrained: bool = False
    # PGD adversarial training (Madry et al. 2018), a countermeasure of the trainer: an
    # L-inf budget in [0, 1] units (0: off) and the attack's steps (step 2.5 * eps / steps)
    adv_eps: float = 0.0
    adv_steps: int = 0
    # stride of the small-image stem's first convolution (models.make_classifier)
    stem_stride: int = 1

    @classmethod
    def victim(cls, profile, **kw) -> "TrainSettings":
        """The victim h of ``profile`` (Appendix G.5); with ``adv_eps``, adversarially
        trained with the profile's ``at_steps`` PGD steps."""
        base = cls(arch=profile.arch, width=profile.width, stem_stride=profile.stem_stride,
                   epochs=profile.victim_epochs,
                   lr=profile.victim_lr, batch_size=profile.batch_size,
                   weight_decay=profile.weight_decay, val_fraction=profile.val_fraction)
        if kw.get("adv_eps"):
            kw.setdefault("adv_steps", profile.at_steps)
        return replace(base, **kw)

    def key(self) -> dict:
        """The settings as a cache key. Adversarial training enters it only when on, so
        the keys of every run without it are those from before it existed; so does a
        stem stride other than 1."""
        d = asdict(self)
        if not self.adv_eps:
            d.pop("adv_eps"), d.pop("adv_steps")
        if self.stem_stride == 1:
            d.pop("stem_stride")
        return d

    @classmethod
    def classifier(cls, profile, image_size: int, **kw) -> "TrainSettings":
        """The owner's classifier f (and EMN's architecture): all the owner's data, no
        hold-out; ImageNet weights for large images where the profile says so (G.3)."""
        from .profiles import LARGE_IMAGE
        pre = profile.imagenet_weights_for_large and image_size >= LARGE_IMAGE and profile.width == 1.0
        return replace(cls.victim(profile, epochs=profile.classifier_epochs, val_fraction=0.0,
                                  pretrained=pre), **kw)


def maybe_compile(model, dev):
    """``torch.compile`` the model where ``CGAN_COMPILE=1`` (off by default, on every device:
    measure it with benchmarks/gpu.py on a GPU and benchmarks/cpu_compile.py on a CPU, which
    needs a C++ compiler; it pays for long runs, not for short ones). Measured on a 2-core
    AVX2-only CPU: about 100 s to compile, then a ``quick`` victim 1.07x faster."""
    import os
    if os.environ.get("CGAN_COMPILE") == "1":
        return torch.compile(model)
    return model


def _autocast(dev):
    """bf16 autocast where :func:`cgan_lib.device.uses_bf16` says so (CUDA; CPUs with native
    bf16), else nothing."""
    if uses_bf16(dev):
        return torch.autocast(dev.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def evaluate(model, x_u8: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> float:
    """Accuracy (fraction) of ``model`` on uint8 images."""
    dev = next(model.parameters()).device
    was = model.training
    model.eval()
    correct = torch.zeros((), device=dev, dtype=torch.long)
    for i in range(0, len(x_u8), batch_size):
        xb = to_float(x_u8[i:i + batch_size].to(dev)).contiguous(memory_format=torch.channels_last)
        with _autocast(dev):
            correct += (model(xb).argmax(1) == y[i:i + batch_size].to(dev)).sum()
    model.train(was)
    return correct.item() / max(1, len(y))


def validation_split(n: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (train, validation) of the trainer's hold-out: a seeded random ``fraction``."""
    k = int(round(n * fraction))
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(10_007 + seed))
    return perm[k:].sort().values, perm[:k].sort().values


def pgd(model, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int) -> torch.Tensor:
    """An L-inf PGD attack from a random start (Madry et al. 2018): ``steps`` signed
    gradient steps of ``2.5 * eps / steps`` on the cross-entropy (``y`` may be soft labels),
    projected on the ``eps`` ball and on [0, 1]. The model is in eval mode meanwhile."""
    was = model.training
    model.eval()
    step = 2.5 * eps / max(1, steps)
    delta = (torch.rand_like(x) * 2 - 1) * eps
    for _ in range(steps):
        delta.requires_grad_(True)
        loss = F.cross_entropy(model((x + delta).clamp(0, 1)).float(), y)
        (g,) = torch.autograd.grad(loss, delta)
        delta = (delta.detach() + step * g.sign()).clamp(-eps, eps)
    model.train(was)
    return (x + delta).clamp(0, 1).detach()


def new_classifier(train_x: torch.Tensor, n_classes: int, s: TrainSettings):
    mean, std = mean_std(train_x)
    return make_classifier(s.arch, n_classes, train_x.shape[1], mean, std, s.width,
                           image_size=min(train_x.shape[-2:]), pretrained=s.pretrained,
                           stem_stride=s.stem_stride)


def train_model(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                test_y: torch.Tensor, n_classes: int, s: TrainSettings = TrainSettings(),
                progress: bool = True, desc: str = "victim", on_epoch=None, curves: bool = True):
    """Train a classifier from scratch on ``train_x``; return ``(model, history)``.

    ``history``: per-epoch training accuracy (on the augmented batches), validation
    accuracy (on the held-out part of the training data), clean test accuracy and loss;
    the final test accuracy; the epoch that validation picks and the test accuracy there
    (``early_stop_test_acc``); wall time and device.

    ``curves=False`` tests on the clean test set only where a number needs it: after the
    last epoch and at the epoch validation picks (from a copy of the weights kept when
    validation accuracy last rose); the other epochs' ``test_acc`` are ``None``. Training
    is the same, and so are ``final_test_acc`` and ``early_stop_test_acc``: a deep victim
    spends a fifth of its CPU time on a per-epoch test pass.
    """
    dev = get_device()
    torch.manual_seed(s.seed)
    g = torch.Generator().manual_seed(s.seed)
    tr, va = validation_split(len(train_x), s.val_fraction, s.seed)
    x_all, y_all = train_x[tr].to(dev), train_y[tr].to(dev)
    x_val, y_val = train_x[va], train_y[va]
    model = new_classifier(train_x[tr], n_classes, s).to(dev).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=s.lr, momentum=0.9, weight_decay=s.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, s.epochs))
    step_model = maybe_compile(model, dev)
    hist = {"train_acc": [], "val_acc": [], "test_acc": [], "train_loss": []}
    best = None   # (validation accuracy, epoch, weights) where test is not run every epoch
    n = len(x_all)
    t0 = time.time()
    bar = progress_bar(range(s.epochs), desc, progress)
    for ep in bar:
        model.train()
        perm = torch.randperm(n, generator=g).to(dev)
        correct = torch.zeros((), device=dev)
        loss_sum = torch.zeros((), device=dev)
        seen = 0
        for i in range(0, n, s.batch_size):
            idx = perm[i:i + s.batch_size]
            if len(idx) < 2:
                continue
            xb, yb = to_float(x_all[idx]), y_all[idx]
            xb, yt = augment_batch(s.aug, xb, yb, n_classes, g)
            if s.adv_eps:
                xb = pgd(model, xb, yt, s.adv_eps, s.adv_steps)
            with _autocast(dev):
                out = step_model(xb.contiguous(memory_format=torch.channels_last))
                loss = F.cross_entropy(out.float(), yt)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach() * len(idx)
            correct += (out.argmax(1) == yb).sum()
            seen += len(idx)
        sched.step()
        hist["train_acc"].append(correct.item() / max(1, seen))
        hist["train_loss"].append(loss_sum.item() / max(1, seen))
        val = evaluate(model, x_val, y_val) if len(va) else None
        hist["val_acc"].append(val)
        if curves or ep == s.epochs - 1:
            hist["test_acc"].append(evaluate(model, test_x, test_y))
            bar.set_postfix(train=f"{hist['train_acc'][-1]:.3f}", test=f"{hist['test_acc'][-1]:.3f}")
        else:
            hist["test_acc"].append(None)
            if val is not None and (best is None or val > best[0]):   # first best, as below
                best = (val, ep, {k: v.detach().clone() for k, v in model.state_dict().items()})
        if on_epoch is not None:
            on_epoch(ep + 1, model)
    hist.update(final_test_acc=hist["test_acc"][-1] if s.epochs else None)
    if len(va) and s.epochs:
        e = max(range(s.epochs), key=lambda k: (hist["val_acc"][k], -k))   # first best epoch
        if hist["test_acc"][e] is None:   # curves=False: test the weights kept at that epoch
            assert best is not None and best[1] == e
            kept = new_classifier(train_x[tr], n_classes, replace(s, pretrained=False)).to(dev)
            kept.load_state_dict(best[2])
            hist["test_acc"][e] = evaluate(kept.to(memory_format=torch.channels_last), test_x, test_y)
        hist.update(early_stop_epoch=e + 1, early_stop_test_acc=hist["test_acc"][e],
                    selected_by="validation")
    hist.update(seconds=round(time.time() - t0, 2), device=device_name(dev), n_train=len(tr),
                n_val=len(va), settings=asdict(s))
    return model, hist


def has_curves(hist: dict) -> bool:
    """Whether a history holds the clean test accuracy of every epoch."""
    return None not in hist["test_acc"]


def victim_result(train_x, train_y, test_x, test_y, n_classes, s: TrainSettings,
                  progress=True, desc="victim", curves: bool = True) -> dict:
    """Cached :func:`train_model`: the history, recomputed only when something changes.

    ``curves`` is a request, not a setting: both kinds of run give the same numbers, so
    they share one cache entry; a stored run without curves is trained again (and
    replaced) only when curves are asked for."""
    params = dict(train=tensor_digest(train_x, train_y), test=tensor_digest(test_x, test_y),
                  n_classes=n_classes, **s.key(), **precision_key())

    def run():
        return train_model(train_x, train_y, test_x, test_y, n_classes, s, progress, desc,
                           curves=curves)[1]
    return cached_json("victim", params, run, accept=has_curves if curves else None)


def trained_classifier(train_x, train_y, test_x, test_y, n_classes, s: TrainSettings,
                       progress: bool = True, desc: str = "classifier f"):
    """A classifier trained on ``(train_x, train_y)`` only, cached; returns ``(model,
    test_acc)`` with the model frozen in eval mode on the device.

    The owner's classifier f of ConfounderGAN: its key holds the digest of exactly the
    data it was trained on, so an f made for a subset never depends on the rest.
    """
    params = dict(train=tensor_digest(train_x, train_y), test=tensor_digest(test_x, test_y),
                  n_classes=n_classes, **s.key(), **precision_key())

    def run():
        model, hist = train_model(train_x, train_y, test_x, test_y, n_classes, s, progress, desc)
        return {"state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
                "test_acc": torch.tensor(hist["final_test_acc"])}

    st = cached_tensors("classifier", params, run)
    model = new_classifier(train_x, n_classes, replace(s, pretrained=False))
    model.load_state_dict(st["state_dict"])
    return freeze(model, get_device()), float(st["test_acc"])
