"""The model trainer's side on real data, in the ci profile, on a fixed seed.

These share the artifact cache with the notebooks: in CI whichever runs first trains,
the other reuses the result.
"""
from dataclasses import replace

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


def test_victims_without_curves_report_the_same_numbers(exp, tmp_cache, monkeypatch):
    """curves=False skips the per-epoch test pass but keeps the weights of the epoch that
    validation picks: final and early-stopping accuracies equal those of a full run."""
    d = exp.data.subset(300, 200)
    s = victim.TrainSettings(width=0.125, epochs=4, batch_size=50, lr=0.05)
    _, full = victim.train_model(d.train_x, d.train_y, d.test_x, d.test_y, 10, s, progress=False)
    _, lean = victim.train_model(d.train_x, d.train_y, d.test_x, d.test_y, 10, s, progress=False,
                                 curves=False)
    assert victim.has_curves(full) and not victim.has_curves(lean)
    assert lean["val_acc"] == full["val_acc"] and lean["train_loss"] == full["train_loss"]
    for k in ("final_test_acc", "early_stop_test_acc", "early_stop_epoch"):
        assert lean[k] == full[k], k
    # the test was run exactly where a number needs it
    tested = {i + 1 for i, v in enumerate(lean["test_acc"]) if v is not None}
    assert tested == {s.epochs, lean["early_stop_epoch"]}

    # one cache entry for both: a lean run is replaced when curves are asked for, and a
    # full run serves a lean request without training
    calls = []
    real = victim.train_model
    monkeypatch.setattr(victim, "train_model", lambda *a, **k: calls.append(k["curves"]) or real(*a, **k))
    args = (d.train_x, d.train_y, d.test_x, d.test_y, 10, s)
    assert not victim.has_curves(victim.victim_result(*args, progress=False, curves=False))
    assert victim.has_curves(victim.victim_result(*args, progress=False, curves=True))
    assert victim.has_curves(victim.victim_result(*args, progress=False, curves=False))
    assert calls == [False, True]


def test_precision_setting_and_its_errors(monkeypatch):
    from cgan_lib import device
    cpu = torch.device("cpu")
    monkeypatch.setenv("CGAN_PRECISION", "fp32")
    assert not device.uses_bf16(cpu) and device.precision_key(cpu) == {}
    assert "bf16" not in device.device_name(cpu)
    monkeypatch.setenv("CGAN_PRECISION", "bf16")
    assert device.uses_bf16(cpu) and device.precision_key(cpu) == {"precision": "bf16-cpu"}
    assert device.device_name(cpu).endswith("bf16)")
    monkeypatch.setenv("CGAN_PRECISION", "half")
    with pytest.raises(ValueError, match="CGAN_PRECISION"):
        device.uses_bf16(cpu)


def test_machine_identity_names_the_cpu_and_tells_machines_apart(monkeypatch):
    from cgan_lib import device
    cpu = torch.device("cpu")
    monkeypatch.setattr(device.platform, "machine", lambda: "x86_64")
    for model, isa, tag in (("AMD EPYC", ("avx2",), "cpu-amd-epyc-avx2"),
                            ("Intel(R) Xeon(R) Platinum 8480+", ("avx2", "avx512f", "avx512_bf16", "amx_bf16"),
                             "cpu-intel-xeon-amx_bf16"),
                            ("i386", (), "cpu-x86_64"),          # flags read: none of ours
                            ("Apple M2", None, "cpu-apple-x86_64")):   # flags unknown
        monkeypatch.setattr(device, "cpu_model", lambda m=model, i=isa: (m, i))
        assert device.machine_tag(cpu) == tag
        info = device.machine_info(cpu)
        assert info["cpu"] == model and info["cpu_isa"] == (None if isa is None else list(isa))
        assert info["machine"] == device.device_name(cpu)
    assert device.cpu_label() == "Apple M2 (flags unknown)"
    monkeypatch.setattr(device, "cpu_model", lambda: ("i386", ()))
    assert device.cpu_label() == "i386 (none of avx2/avx512f/avx512_bf16/amx_bf16)"
    monkeypatch.undo()
    model, isa = device.cpu_model()       # the real /proc/cpuinfo of this machine
    assert model and isa is not None and set(isa) <= set(device._ISA_FLAGS)


def test_compile_is_a_switch_off_by_default(monkeypatch):
    from cgan_lib.victim import maybe_compile
    m = torch.nn.Linear(2, 2)
    monkeypatch.delenv("CGAN_COMPILE", raising=False)
    assert maybe_compile(m, torch.device("cpu")) is m
    monkeypatch.setenv("CGAN_COMPILE", "1")
    c = maybe_compile(m, torch.device("cpu"))       # wrapped; compiles on its first call
    assert c is not m and c._orig_mod is m


def _tiny_emn():
    """48 random 8x8 images of 3 classes and EMN settings of three short rounds."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (48, 1, 8, 8), dtype=torch.uint8, generator=g)
    y = torch.arange(48) % 3
    s = baselines.EMNSettings(eps=8 / 255, width=0.125, steps=2, train_steps=2, max_rounds=3,
                              stop_error=0.0, batch_size=16, noise_batch_size=16)
    return x, y, s


def test_emn_resumes_from_its_round_checkpoint_exactly(tmp_path):
    # a run stopped after one round and resumed ends as an unbroken run does, to the bit
    x, y, s = _tiny_emn()
    whole, info = baselines.error_minimizing_noise(x, y, 3, s, progress=False)
    ck = tmp_path / "emn.rounds.pt"
    part, pinfo = baselines.error_minimizing_noise(x, y, 3, s, progress=False, checkpoint=ck,
                                                   stop_after=1)
    assert part is None and pinfo["partial"] and pinfo["rounds"] == 1 and ck.is_file()
    resumed, rinfo = baselines.error_minimizing_noise(x, y, 3, s, progress=False, checkpoint=ck)
    assert torch.equal(resumed, whole) and rinfo["errors"] == info["errors"] and rinfo["rounds"] == 3
    assert not ck.exists()                                   # removed once the run is done
    # a checkpoint of another run is refused, not silently resumed
    baselines.error_minimizing_noise(x, y, 3, s, progress=False, checkpoint=ck, stop_after=1)
    with pytest.raises(ValueError, match="another EMN run"):
        baselines.error_minimizing_noise(x, y, 3, replace(s, seed=1), progress=False, checkpoint=ck)


def test_emn_stops_between_rounds_at_the_stop_time_and_resumes_exactly(tmp_path, monkeypatch):
    """CGAN_STOP_AT passed: EMN finishes the round it is in, saves it and stops; a later run
    without a stop time resumes and ends as an unbroken run does."""
    from cgan_lib.artifacts import DeadlineReached
    x, y, s = _tiny_emn()
    whole, info = baselines.error_minimizing_noise(x, y, 3, s, progress=False)
    ck = tmp_path / "emn.rounds.pt"
    monkeypatch.setenv("CGAN_STOP_AT", "1")           # long past
    with pytest.raises(DeadlineReached, match="EMN round 2 of at most 3"):
        baselines.error_minimizing_noise(x, y, 3, s, progress=False, checkpoint=ck)
    from cgan_lib.artifacts import load_checkpoint
    assert load_checkpoint(ck)["round"] == 1             # the finished round is kept
    monkeypatch.delenv("CGAN_STOP_AT")
    resumed, rinfo = baselines.error_minimizing_noise(x, y, 3, s, progress=False, checkpoint=ck)
    assert torch.equal(resumed, whole) and rinfo["errors"] == info["errors"]
