"""The protection registry: one interface, sample-wise methods refuse foreign images, and
an artifact made for a subset never depends on the rest of the data (no leaks)."""
import pytest
import torch

from cgan_lib import artifacts
from cgan_lib.data import to_float
from cgan_lib.experiment import Experiment
from cgan_lib.profiles import get_profile
from cgan_lib.protections import PROTECTIONS, make

TINY = get_profile("ci").replace(n_train=200, n_test=100, seeds=(0, 1), classifier_epochs=1,
                                 gan_epochs=1, gen_width=8, width=0.125, victim_epochs=2,
                                 emn_max_rounds=1, emn_steps=2, batch_size=50)


@pytest.fixture
def exp(tmp_cache):
    return Experiment("tests", TINY, progress=False)


def test_every_method_protects_within_the_budget(exp):
    d = exp.data
    assert set(PROTECTIONS) >= {"natural", "cwp", "cwn", "emn", "confoundergan"}
    for m in ("natural", "cwn", "emn", "confoundergan"):
        x = exp.protect(m)
        assert x.dtype == torch.uint8 and x.shape == d.train_x.shape
        assert (to_float(x) - to_float(d.train_x)).abs().max() <= exp.eps + 1e-6, m
    with pytest.raises(ValueError, match="Unknown protection 'nope'"):
        make("nope", exp.owner)


def test_labels_and_sample_wise_rules(exp):
    d = exp.data
    cwn = exp.protection("cwn")
    with pytest.raises(ValueError, match="needs the labels"):
        cwn.protect(d.train_x)
    emn = exp.protection("emn")
    with pytest.raises(ValueError, match="sample-wise"):
        emn.protect(d.train_x[:10], d.train_y[:10])
    with pytest.raises(RuntimeError, match="call fit"):
        make("confoundergan", exp.owner).protect(d.train_x)
    # ConfounderGAN protects images it never saw, without labels
    inn, out = exp.split(0.5)
    x_out = exp.protect("confoundergan", idx=inn, target=out)
    assert x_out.shape == d.train_x[out].shape and not torch.equal(x_out, d.train_x[out])


def test_owner_artifacts_for_a_subset_ignore_the_rest(exp):
    """Out-of-distribution setting: f, G and EMN made for the p part must not see the rest.
    Change every image outside the part: the same keys and the same artifacts."""
    inn, out = exp.split(0.5)
    f1, _ = exp.classifier(idx=inn)
    G1, _ = exp.generator(idx=inn)
    e1 = exp.protect("emn", idx=inn)
    n_classifiers = len(list((artifacts.cache_dir() / "classifier").glob("*.pt")))
    n_generators = len(list((artifacts.cache_dir() / "generator").glob("*.pt")))

    other = Experiment("tests", TINY, progress=False)
    other.data.train_x[out] = 255 - other.data.train_x[out]      # a different rest
    f2, _ = other.classifier(idx=inn)
    G2, _ = other.generator(idx=inn)
    e2 = other.protect("emn", idx=inn)
    # nothing new was trained: the subset's artifacts were found under the same keys
    assert len(list((artifacts.cache_dir() / "classifier").glob("*.pt"))) == n_classifiers
    assert len(list((artifacts.cache_dir() / "generator").glob("*.pt"))) == n_generators
    for a, b in zip(f1.state_dict().values(), f2.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(G1.state_dict().values(), G2.state_dict().values()):
        assert torch.equal(a, b)
    assert torch.equal(e1, e2)
    # whereas the whole-set f does depend on every image
    fa, _ = exp.classifier()
    fb, _ = other.classifier()
    assert not all(torch.equal(a, b) for a, b in zip(fa.state_dict().values(), fb.state_dict().values()))


def test_seeds_change_the_owner_artifacts(exp):
    a, b = exp.protect("confoundergan", seed=0), exp.protect("confoundergan", seed=1)
    assert not torch.equal(a, b)
    assert not torch.equal(exp.protect("cwn", seed=0), exp.protect("cwn", seed=1))
