"""The model trainer's side on real data, in the ci profile, on a fixed seed.

These share the artifact cache with the notebooks: in CI whichever runs first trains,
the other reuses the result.
"""
import pytest
import torch

from cgan_lib import baselines, victim
from cgan_lib.data import to_float
from cgan_lib.experiment import Experiment


@pytest.fixture(scope="module")
def exp():
    return Experiment("tests", "ci", progress=False)


def test_cwp_and_cwn_shapes_and_bounds(exp):
    d = exp.data
    p = baselines.class_wise_patches(d.train_x, d.train_y, d.n_classes)
    s = baselines.patch_size_for(28)
    assert s == 4
    corner = p[:, :, -s:, -s:]
    for c in range(d.n_classes):   # one level per class, distinct across classes
        vals = corner[d.train_y == c].unique()
        assert len(vals) == 1
    assert len(corner.flatten(1)[:, 0].unique()) == d.n_classes
    assert torch.equal(p[:, :, :-s, :], d.train_x[:, :, :-s, :])   # the rest is untouched
    rgb = baselines.class_wise_patches(torch.zeros(2, 3, 32, 32, dtype=torch.uint8),
                                       torch.tensor([0, 4]), 10)
    assert rgb[0, :, -1, -1].tolist() == [220, 0, 0] and rgb[1, :, -1, -1].tolist() == [0, 220, 0]
    n = baselines.class_wise_noise(d.train_x, d.train_y, d.n_classes, exp.eps)
    delta = to_float(n) - to_float(d.train_x)
    assert delta.abs().max() <= exp.eps + 1e-6
    # the same pattern for every image of a class where no clamping happened
    pats = baselines.class_wise_noise_patterns(d.n_classes, d.train_x.shape[1:], exp.eps)
    assert torch.allclose(pats.abs(), torch.full_like(pats, exp.eps))
    assert (pats > 0).any() and (pats < 0).any()


def test_emn_reaches_its_stop_condition_and_lowers_accuracy(exp):
    d = exp.data
    prot = exp.protection("emn")
    emn, info = prot.protect(d.train_x, d.train_y), prot.info
    assert info["stopped"] and info["final_error"] < exp.profile.emn_stop_error
    delta = to_float(emn) - to_float(d.train_x)
    assert delta.abs().max() <= exp.eps + 1e-6
    nat = exp.victim(d.train_x)
    hurt = exp.victim(emn)
    assert hurt["final_test_acc"] < nat["final_test_acc"] - 0.1, (nat["final_test_acc"], hurt["final_test_acc"])


def test_cwn_lowers_accuracy(exp):
    d = exp.data
    nat = exp.victim(d.train_x)
    hurt = exp.victim(exp.protect("cwn"))
    assert hurt["final_test_acc"] < nat["final_test_acc"] - 0.05, (nat["final_test_acc"], hurt["final_test_acc"])


def test_emn_clamps_after_adding(monkeypatch):
    # all-white images: a correct EMN keeps the negative half of the noise
    x = torch.full((8, 1, 8, 8), 255, dtype=torch.uint8)
    y = torch.arange(8) % 2
    s = baselines.EMNSettings(eps=8 / 255, width=0.125, steps=2, train_steps=1, max_rounds=2,
                              batch_size=8)
    out, info = baselines.error_minimizing_noise(x, y, 2, s, progress=False)
    assert (out < 255).any() and (out >= 255 - 8).all()


def test_victim_cache_returns_the_same_record_without_training(exp, tmp_cache, monkeypatch):
    d = exp.data.subset(200, 100)
    s = victim.TrainSettings(width=0.125, epochs=1, batch_size=50)
    first = victim.victim_result(d.train_x, d.train_y, d.test_x, d.test_y, 10, s, progress=False)

    def boom(*a, **k):
        raise AssertionError("retrained although cached")
    monkeypatch.setattr(victim, "train_model", boom)
    again = victim.victim_result(d.train_x, d.train_y, d.test_x, d.test_y, 10, s, progress=False)
    assert again == first
    assert set(first) >= {"train_acc", "val_acc", "test_acc", "final_test_acc", "early_stop_test_acc",
                          "early_stop_epoch", "selected_by", "seconds", "device"}
    assert "best_test_acc" not in first
    # a changed setting is a different key: it trains (and here hits the trap)
    with pytest.raises(AssertionError, match="retrained"):
        victim.victim_result(d.train_x, d.train_y, d.test_x, d.test_y, 10,
                             victim.TrainSettings(width=0.125, epochs=1, batch_size=50, aug="flip"),
                             progress=False)
