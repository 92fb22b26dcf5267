"""Appendix A: the paper's account of why protected data teaches little, seen through the
victim's last layer.

For a victim h at a checkpoint of its training on protected data, W the weights of its
last layer (the classifier), and the owner's training images x_i with labels t_i:

* Confidence Ascent Ratio ``CAR = mean_i 1[softmax(h(x_i + n_i))_t > softmax(h(x_i))_t]``;
* Gradient Compression Ratio ``GCR = mean_i ||grad_W l(x_i + n_i, t)||_2 / ||grad_W l(x_i, t)||_2``,

with ``x_i + n_i`` the protected image. The per-example gradients come from
``torch.func`` (``vmap`` of ``grad`` of the loss as a function of W), computed on the
features the last layer receives.

Checkpoints: :func:`snapshots` trains a victim (the profile's recipe, cached) and keeps
its weights at chosen epochs.
"""
from __future__ import annotations


import torch
import torch.nn as nn
import torch.nn.functional as F

from .artifacts import cached_tensors
from .device import precision_key
from .data import to_float
from .victim import TrainSettings, new_classifier, tensor_digest, train_model


def last_layer(model: nn.Module) -> nn.Linear:
    """The classifier layer of a zoo model (the last ``nn.Linear``)."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("the model has no linear layer")
    return linears[-1]


@torch.no_grad()
def features_and_logits(model: nn.Module, x_u8: torch.Tensor, batch_size: int = 512):
    """What the last layer receives (its input features) and the logits, in eval mode."""
    lin = last_layer(model)
    dev = next(model.parameters()).device
    feats, logits = [], []

    def hook(mod, inp, out):
        feats.append(inp[0].detach().float().cpu())
        logits.append(out.detach().float().cpu())

    h = lin.register_forward_hook(hook)
    was = model.training
    model.eval()
    try:
        for i in range(0, len(x_u8), batch_size):
            model(to_float(x_u8[i:i + batch_size].to(dev)))
    finally:
        h.remove()
        model.train(was)
    return torch.cat(feats), torch.cat(logits)


def per_example_weight_grads(W: torch.Tensor, b: torch.Tensor, feats: torch.Tensor,
                             y: torch.Tensor) -> torch.Tensor:
    """``grad_W l(x_i, t_i)`` for every example i (shape n x out x in), by ``vmap(grad)``."""
    from torch.func import grad, vmap

    def loss(W_, f, t):
        return F.cross_entropy((f @ W_.T + b).unsqueeze(0), t.unsqueeze(0))

    return vmap(grad(loss), in_dims=(None, 0, 0))(W, feats, y)


def car_gcr(model: nn.Module, clean_u8: torch.Tensor, protected_u8: torch.Tensor,
            y: torch.Tensor, chunk: int = 1024) -> dict:
    """CAR and GCR of ``model`` on (clean, protected) pairs with labels ``y``."""
    lin = last_layer(model)
    W, b = lin.weight.detach().float().cpu(), lin.bias.detach().float().cpu()
    f_c, z_c = features_and_logits(model, clean_u8)
    f_p, z_p = features_and_logits(model, protected_u8)
    conf_c = z_c.softmax(1).gather(1, y[:, None]).squeeze(1)
    conf_p = z_p.softmax(1).gather(1, y[:, None]).squeeze(1)
    ratios = []
    for i in range(0, len(y), chunk):
        g_c = per_example_weight_grads(W, b, f_c[i:i + chunk], y[i:i + chunk]).flatten(1).norm(dim=1)
        g_p = per_example_weight_grads(W, b, f_p[i:i + chunk], y[i:i + chunk]).flatten(1).norm(dim=1)
        ratios.append(g_p / g_c.clamp_min(1e-12))
    r = torch.cat(ratios)
    return {"car": float((conf_p > conf_c).float().mean()), "gcr": float(r.mean()),
            "gcr_median": float(r.median())}


def snapshots(train_x, train_y, test_x, test_y, n_classes, s: TrainSettings, epochs,
              progress: bool = True, desc: str = "victim (checkpoints)"):
    """Train a victim and keep its weights after each epoch in ``epochs`` (1-based);
    cached. Returns ``(history, {epoch: model})``."""
    epochs = sorted(set(int(e) for e in epochs))
    params = dict(train=tensor_digest(train_x, train_y), test=tensor_digest(test_x, test_y),
                  n_classes=n_classes, epochs_kept=epochs, **s.key(), **precision_key())

    def run():
        kept = {}

        def keep(epoch, model):
            if epoch in epochs:
                kept[str(epoch)] = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        _, hist = train_model(train_x, train_y, test_x, test_y, n_classes, s, progress, desc,
                              on_epoch=keep)
        return {"states": kept, "test_acc": torch.tensor(hist["test_acc"]),
                "train_acc": torch.tensor(hist["train_acc"])}

    st = cached_tensors("snapshots", params, run)
    from .device import get_device
    models = {}
    for e, sd in st["states"].items():
        m = new_classifier(train_x, n_classes, s)
        m.load_state_dict(sd)
        models[int(e)] = m.to(get_device()).eval()
    hist = {"test_acc": st["test_acc"].tolist(), "train_acc": st["train_acc"].tolist()}
    return hist, models
