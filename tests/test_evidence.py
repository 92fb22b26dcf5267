"""Seeds, spread and early stopping by validation, on small real data."""
import json

import pytest
import torch

from cgan_lib import victim
from cgan_lib.artifacts import Results
from cgan_lib.experiment import Experiment
from cgan_lib.profiles import get_profile

TINY = get_profile("ci").replace(n_train=300, n_test=200, seeds=(0, 1), width=0.125,
                                 victim_epochs=3, batch_size=50)


def test_same_seed_fresh_cache_identical_numbers(tmp_path, monkeypatch):
    runs = []
    for k in range(2):
        monkeypatch.setenv("CGAN_CACHE", str(tmp_path / f"cache{k}"))
        exp = Experiment("tests", TINY, progress=False)
        runs.append(exp.victims(lambda s: exp.data.train_x, desc="natural"))
    for s in (0, 1):   # everything but the wall time is identical
        assert {k: v for k, v in runs[0][s].items() if k != "seconds"} == \
               {k: v for k, v in runs[1][s].items() if k != "seconds"}
    # different seeds: different victims
    assert runs[0][0]["test_acc"] != runs[0][1]["test_acc"]


def test_early_stopping_is_selected_by_validation_not_test(tmp_cache):
    exp = Experiment("tests", TINY, progress=False)
    h = exp.victim(exp.data.train_x)
    assert h["selected_by"] == "validation"
    assert h["n_val"] == 30 and h["n_train"] == 270            # the trainer's 10% hold-out
    e = h["early_stop_epoch"] - 1
    assert h["val_acc"][e] == max(h["val_acc"])                 # picked on validation ...
    assert h["early_stop_test_acc"] == h["test_acc"][e]         # ... reported on the clean test set
    tr, va = victim.validation_split(300, 0.1, 0)
    assert len(set(tr.tolist()) & set(va.tolist())) == 0 and len(tr) + len(va) == 300


def test_multi_seed_records_carry_values_mean_and_std(tmp_path, tmp_cache):
    exp = Experiment("tests", TINY, progress=False)
    exp.results = Results("tests", TINY.name, "CPU", root=tmp_path)
    hists = exp.victims(lambda s: exp.data.train_x, desc="natural")
    rec = exp.record_seeds("table2", "natural", "No augmentation", hists)
    es = exp.record_seeds("table2", "natural", "No augmentation", hists, metric="early_stop_test_acc")
    assert rec["seeds"] == [0, 1] and len(rec["values"]) == 2
    assert rec["value"] == pytest.approx(sum(rec["values"]) / 2)
    assert rec["std"] == pytest.approx(torch.tensor(rec["values"]).std().item())
    assert es["selected_by"] == "validation" and es["metric"] == "early_stop_test_acc"
    r = exp.claim("table2.ours_below_natural", [0.1, 0.1], rec["values"])
    exp.save()
    body = json.loads((tmp_path / "ci" / "tests.json").read_text())
    claims = [x for x in body["records"] if x["experiment"] == "claims"]
    assert claims[0]["status"] == r.status and claims[0]["method"] == "table2.ours_below_natural"
    with pytest.raises(ValueError, match="one each"):
        exp.results.add("x", "d", "a", "m", "s", "test_acc", values=[0.1, 0.2], seeds=[0])


@pytest.mark.parametrize("bad", ["[0, 1]", [0, "1"], 1.5, [True]])
def test_seeds_of_the_wrong_type_get_an_error_that_names_the_fix(bad):
    from cgan_lib.experiment import _seed_tuple
    with pytest.raises(ValueError, match="list of ints"):
        _seed_tuple(bad)
    assert _seed_tuple(3) == (3,) and _seed_tuple([0, 1]) == (0, 1)
