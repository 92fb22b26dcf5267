"""The model trainer's side: train a fresh model h on (protected) data, test it on clean data.

Appendix G.5: SGD, momentum 0.9, initial lr 0.025, cosine schedule without restart, the
profile's number of epochs (90 in the paper). Weight decay is not given in the paper;
we use 5e-4, the value of the unlearnable-examples line of work (Huang et al. 2021).
The trainer normalises with the mean and std of the data it downloaded, as a real
trainer would. Results are cached under a key of everything that determines them.
"""
from __future__ import annotations

import hashlib
import time

import torch
import torch.nn.functional as F

from .artifacts import cached_json, cached_tensors
from .augment import augment_batch
from .data import mean_std, to_float
from .device import device_name, get_device
from .device import progress as progress_bar
from .models import make_classifier

WEIGHT_DECAY = 5e-4


def tensor_digest(*ts: torch.Tensor) -> str:
    """A content hash of tensors: part of every cache key that depends on data."""
    h = hashlib.sha1()
    for t in ts:
        t = t.detach().cpu().contiguous()
        h.update(str((tuple(t.shape), str(t.dtype))).encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()[:16]


@torch.no_grad()
def evaluate(model, x_u8: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> float:
    """Accuracy (fraction) of ``model`` on uint8 images."""
    dev = next(model.parameters()).device
    model.eval()
    correct = 0
    for i in range(0, len(x_u8), batch_size):
        xb = to_float(x_u8[i:i + batch_size].to(dev)).contiguous(memory_format=torch.channels_last)
        correct += (model(xb).argmax(1).cpu() == y[i:i + batch_size]).sum().item()
    return correct / max(1, len(y))


@torch.no_grad()
def predict_float(model, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    dev = next(model.parameters()).device
    model.eval()
    out = [model(x[i:i + batch_size].to(dev)).cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(out)


def train_model(train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
                test_y: torch.Tensor, n_classes: int, arch: str = "resnet18", width: float = 1.0,
                epochs: int = 90, lr: float = 0.025, batch_size: int = 128, aug: str = "none",
                seed: int = 0, progress: bool = True, desc: str = "victim"):
    """Train a classifier from scratch; return ``(model, history)``.

    ``history`` holds per-epoch training accuracy (on the augmented batches), clean test
    accuracy and loss, the final and best-epoch test accuracy (early stopping, App. C),
    wall time and device.
    """
    dev = get_device()
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    mean, std = mean_std(train_x)
    model = make_classifier(arch, n_classes, train_x.shape[1], mean, std, width)
    model = model.to(dev).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    hist = {"train_acc": [], "test_acc": [], "train_loss": []}
    n = len(train_x)
    t0 = time.time()
    bar = progress_bar(range(epochs), desc, progress)
    for ep in bar:
        model.train()
        perm = torch.randperm(n, generator=g)
        seen = correct = 0
        loss_sum = 0.0
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            if len(idx) < 2:
                continue
            xb = to_float(train_x[idx].to(dev))
            yb = train_y[idx].to(dev)
            xb, yt = augment_batch(aug, xb, yb, n_classes, g)
            out = model(xb.contiguous(memory_format=torch.channels_last))
            loss = F.cross_entropy(out, yt)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += (out.argmax(1) == yb).sum().item()
            seen += len(idx)
        sched.step()
        hist["train_acc"].append(correct / max(1, seen))
        hist["train_loss"].append(loss_sum / max(1, seen))
        hist["test_acc"].append(evaluate(model, test_x, test_y))
        bar.set_postfix(train=f"{hist['train_acc'][-1]:.3f}", test=f"{hist['test_acc'][-1]:.3f}")
    best = max(range(epochs), key=lambda e: hist["test_acc"][e]) if epochs else 0
    hist.update(final_test_acc=hist["test_acc"][-1] if epochs else None,
                best_test_acc=hist["test_acc"][best] if epochs else None, best_epoch=best + 1,
                seconds=round(time.time() - t0, 2), device=device_name(dev), epochs=epochs,
                arch=arch, width=width, aug=aug, n_train=n)
    return model, hist


def victim_result(train_x, train_y, test_x, test_y, n_classes, arch="resnet18", width=1.0,
                  epochs=90, lr=0.025, batch_size=128, aug="none", seed=0, progress=True,
                  desc="victim") -> dict:
    """Cached :func:`train_model`: the history, recomputed only when something changes."""
    params = dict(train=tensor_digest(train_x, train_y), test=tensor_digest(test_x, test_y),
                  n_classes=n_classes, arch=arch, width=width, epochs=epochs, lr=lr,
                  batch_size=batch_size, aug=aug, seed=seed, wd=WEIGHT_DECAY)

    def run():
        _, hist = train_model(train_x, train_y, test_x, test_y, n_classes, arch, width, epochs,
                              lr, batch_size, aug, seed, progress, desc)
        return hist
    return cached_json("victim", params, run)


def pretrained_classifier(data, profile, arch: str | None = None, seed: int = 0,
                          progress: bool = True):
    """The classifier f of ConfounderGAN (and EMN's source model), trained on clean data.

    Cached by the data's content and the profile's sizes; returns ``(model, test_acc)``
    with the model frozen in eval mode on the device.
    """
    arch = arch or profile.arch
    params = dict(train=tensor_digest(data.train_x, data.train_y),
                  test=tensor_digest(data.test_x, data.test_y), arch=arch, width=profile.width,
                  epochs=profile.classifier_epochs, lr=profile.victim_lr,
                  batch_size=profile.batch_size, seed=seed)
    def run():
        model, hist = train_model(data.train_x, data.train_y, data.test_x, data.test_y,
                                  data.n_classes, arch, profile.width, profile.classifier_epochs,
                                  profile.victim_lr, profile.batch_size, "none", seed, progress,
                                  desc="classifier f")
        return {"state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
                "test_acc": torch.tensor(hist["final_test_acc"])}

    st = cached_tensors("classifier", params, run)
    mean, std = mean_std(data.train_x)
    model = make_classifier(arch, data.n_classes, data.channels, mean, std, profile.width)
    model.load_state_dict(st["state_dict"])
    model = model.to(get_device()).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model, float(st["test_acc"])
