"""The paper as data: values are looked up, claims get a status from the seeds' spread."""
import pytest

from cgan_lib import paper


def test_paper_values_are_looked_up_with_their_source():
    v = paper.paper_value("table2", "confoundergan", "No augmentation")
    assert (v.value, v.dataset, v.arch, v.source) == (0.112, "cifar10", "resnet18", "Table 2")
    assert paper.paper_value("table2", "emn", "FA").value == 0.384
    assert paper.paper_value("table2", "confoundergan", "FA") is None        # not legible in our copy
    assert paper.paper_value("fig5", "confoundergan", "polyline 5, p=90%").value == 0.28
    assert paper.paper_value("table1", "emn", "No augmentation", "svhn", "vgg11").value == 0.326
    with pytest.raises(ValueError, match="several datasets"):
        paper.paper_value("table1", "emn", "No augmentation", arch="vgg11")
    for v in paper.VALUES:
        assert 0 < v.value < 1 and v.source


def test_claim_holds_only_when_every_seed_and_the_mean_beat_the_spread():
    # ours far below natural on both seeds
    r = paper.check("table2.ours_below_natural", [0.20, 0.22], [0.84, 0.83])
    assert r.status == paper.HOLDS and r.n == 2
    assert "Holds" in r.sentence and "2 seeds" in r.sentence and "Table 2" in r.sentence
    # clearly not: ours as good as natural
    r = paper.check("table2.ours_below_natural", [0.80, 0.83], [0.84, 0.83])
    assert r.status == paper.FAILS
    # seeds disagree: undecided at this scale
    r = paper.check("table2.ours_below_natural", [0.50, 0.75], [0.84, 0.84])
    assert r.status == paper.UNDECIDED
    # one seed never decides
    assert paper.check("table2.ours_below_natural", [0.1], [0.9]).status == paper.UNDECIDED
    # the margin counts: 5 points below is not the 20 the claim needs
    assert paper.check("table2.ours_below_natural", [0.79, 0.79], [0.84, 0.84]).status == paper.FAILS


def test_claims_with_negative_margin_and_constants():
    # "adds at most 5 points": 2 points above holds, 15 above does not
    assert paper.check("fig5.mix_adds_little", [0.52, 0.53], [0.50, 0.51]).status == paper.HOLDS
    assert paper.check("fig5.mix_adds_little", [0.65, 0.66], [0.50, 0.51]).status == paper.FAILS
    assert paper.check("table2.ours_below_natural", [0.1, 0.12], 0.9).status == paper.HOLDS
    with pytest.raises(KeyError, match="Unknown claim"):
        paper.check("nope", [0.1], [0.2])
    with pytest.raises(ValueError, match="one value per seed"):
        paper.check("table2.ours_below_emn", [0.1, 0.2], [0.2])
