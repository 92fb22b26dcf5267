"""Appendix A's CAR and GCR: per-example gradients by torch.func against a plain loop."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from cgan_lib import gradients
from cgan_lib.victim import TrainSettings


def test_vmap_grads_equal_a_loop_of_autograd():
    g = torch.Generator().manual_seed(0)
    W = torch.randn(5, 7, generator=g)
    b = torch.randn(5, generator=g)
    feats = torch.randn(9, 7, generator=g)
    y = torch.randint(0, 5, (9,), generator=g)
    fast = gradients.per_example_weight_grads(W, b, feats, y)
    for i in range(9):
        Wi = W.clone().requires_grad_(True)
        F.cross_entropy((feats[i:i + 1] @ Wi.T + b), y[i:i + 1]).backward()
        assert torch.allclose(fast[i], Wi.grad, atol=1e-6)


def test_car_gcr_on_a_tiny_model():
    # a linear classifier on 12 pixels, class k reading only pixels 4k..4k+3
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.zero_()
        for k in range(3):
            model[1].weight[k, 4 * k:4 * k + 4] = 5.0
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(40, 3, 2, 2, generator=g) * 150).to(torch.uint8)
    y = torch.randint(0, 3, (40,), generator=g)
    same = gradients.car_gcr(model, x, x, y)
    assert same["car"] == 0.0 and abs(same["gcr"] - 1.0) < 1e-5      # no noise: ratio 1, no ascent
    # a confounder: brighten the pixels the label's class reads -> more confident, less gradient
    prot = x.clone().flatten(1)
    for i, t in enumerate(y.tolist()):
        prot[i, 4 * t:4 * t + 4] += 100
    out = gradients.car_gcr(model, x, prot.view_as(x), y)
    assert out["car"] == 1.0 and out["gcr"] < 0.5, out


def test_snapshots_keep_the_asked_epochs(tmp_cache, fmnist):
    d = fmnist.subset(200, 100)
    s = TrainSettings(width=0.125, epochs=3, batch_size=50)
    hist, models = gradients.snapshots(d.train_x, d.train_y, d.test_x, d.test_y, 10, s, [1, 3],
                                       progress=False)
    assert sorted(models) == [1, 3] and len(hist["test_acc"]) == 3
    a, b = (list(models[e].state_dict().values()) for e in (1, 3))
    assert not all(torch.equal(u, v) for u, v in zip(a, b))   # weights moved between epochs
    r = gradients.car_gcr(models[3], d.train_x[:50], d.train_x[:50], d.train_y[:50])
    assert r["car"] == 0.0 and abs(r["gcr"] - 1) < 1e-5
