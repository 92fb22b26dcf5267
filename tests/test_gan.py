import pytest
import torch

from cgan_lib.artifacts import CorruptCheckpointError, load_checkpoint
from cgan_lib.data import to_float
from cgan_lib.gan import (NotAGeneratorError, load_generator, protect_tensor, save_generator,
                          train_confoundergan)
from cgan_lib.profiles import get_profile

# Algorithm 1 on 500 images of the ci subset, with the ci profile's classifier f (cached:
# chapter 2 and the book test train the same one).
TINY = get_profile("ci").replace(gan_epochs=5, batch_size=32, gen_width=8)


@pytest.fixture(scope="module")
def tiny():
    from dataclasses import replace
    from cgan_lib.experiment import Experiment
    exp = Experiment("tests", "ci", progress=False)
    f, acc = exp.classifier()
    data = replace(exp.data, train_x=exp.data.train_x[:500], train_y=exp.data.train_y[:500])
    return data, f, acc


def test_algorithm1_learns_the_confounder(tiny, tmp_path):
    data, f, acc = tiny
    assert acc > 3 / data.n_classes   # f learned something from clean data (3x chance)
    G, hist = train_confoundergan(data, f, TINY, checkpoint=tmp_path / "g.pt", progress=False)
    assert len(hist) == TINY.gan_epochs
    assert hist[-1]["confounder"] < hist[0]["confounder"] * 0.8      # the loss falls
    assert hist[-1]["noise_acc"] > 3 / data.n_classes                 # f reads the class from the noise
    for row in hist:
        assert row["noise_linf"] <= 16 / 255 + 1e-6                   # the bound holds
        assert set(row) >= {"d_loss", "hinge", "adversarial", "d_acc_real", "d_acc_protected", "noise_l2"}
    prot = protect_tensor(G, data.train_x)
    assert prot.dtype == torch.uint8
    assert (to_float(prot) - to_float(data.train_x)).abs().max() <= 16 / 255 + 1e-6


def test_resume_gives_the_same_generator(tiny, tmp_path):
    data, f, _ = tiny
    full, hist_full = train_confoundergan(data, f, TINY, seed=1, checkpoint=tmp_path / "a.pt",
                                          progress=False)
    part, hist_part = train_confoundergan(data, f, TINY, seed=1, checkpoint=tmp_path / "b.pt",
                                          progress=False, stop_after=2)
    assert len(hist_part) == 2 and load_checkpoint(tmp_path / "b.pt")["epoch"] == 2
    resumed, hist_res = train_confoundergan(data, f, TINY, seed=1, checkpoint=tmp_path / "b.pt",
                                            progress=False)
    assert len(hist_res) == TINY.gan_epochs
    for k, v in full.state_dict().items():
        assert torch.allclose(v.float(), resumed.state_dict()[k].float(), atol=1e-6), k
    assert hist_res[-1]["confounder"] == pytest.approx(hist_full[-1]["confounder"], rel=1e-5)
    # a finished checkpoint is returned without training again
    again, hist_again = train_confoundergan(data, f, TINY, seed=1, checkpoint=tmp_path / "b.pt",
                                            progress=False)
    assert len(hist_again) == TINY.gan_epochs


def test_checkpoint_of_another_run_is_refused(tiny, tmp_path):
    data, f, _ = tiny
    train_confoundergan(data, f, TINY, seed=2, checkpoint=tmp_path / "c.pt", progress=False, stop_after=1)
    with pytest.raises(NotAGeneratorError, match="different run"):
        train_confoundergan(data, f, TINY, seed=3, checkpoint=tmp_path / "c.pt", progress=False)


def test_generator_checkpoint_roundtrip_and_bad_files(tiny, tmp_path):
    data, f, _ = tiny
    G, hist = train_confoundergan(data, f, TINY, checkpoint=tmp_path / "g.pt", progress=False)
    G2 = load_generator(tmp_path / "g.pt")          # the training checkpoint works directly
    save_generator(G, tmp_path / "export.pt", G.meta, hist)
    G3 = load_generator(tmp_path / "export.pt")
    assert torch.equal(protect_tensor(G2, data.train_x[:20]), protect_tensor(G3, data.train_x[:20]))
    assert G3.meta["dataset"] == "fashion-mnist" and G3.meta["channels"] == 1
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(NotAGeneratorError, match="not a ConfounderGAN generator"):
        load_generator(tmp_path / "other.pt")
    (tmp_path / "broken.pt").write_bytes((tmp_path / "export.pt").read_bytes()[:1000])
    with pytest.raises(CorruptCheckpointError, match="truncated"):
        load_generator(tmp_path / "broken.pt")
    with pytest.raises(FileNotFoundError):
        load_generator(tmp_path / "missing.pt")


def test_a_stop_time_ends_training_between_epochs_and_the_checkpoint_resumes(tiny, tmp_path,
                                                                               monkeypatch):
    from cgan_lib.artifacts import DeadlineReached
    data, f, _ = tiny
    monkeypatch.setenv("CGAN_STOP_AT", "1")           # long past: stop after the first epoch
    with pytest.raises(DeadlineReached, match=f"epoch 2 of {TINY.gan_epochs}"):
        train_confoundergan(data, f, TINY, seed=4, checkpoint=tmp_path / "d.pt", progress=False)
    assert load_checkpoint(tmp_path / "d.pt")["epoch"] == 1
    monkeypatch.delenv("CGAN_STOP_AT")
    _, hist = train_confoundergan(data, f, TINY, seed=4, checkpoint=tmp_path / "d.pt",
                                  progress=False)
    assert len(hist) == TINY.gan_epochs
