import json
import subprocess
import sys

import pytest
import torch

from cgan_lib import artifacts
from cgan_lib.cli import main


def test_atomic_save_and_corrupt_checkpoint(tmp_path):
    p = artifacts.atomic_save({"a": torch.ones(3)}, tmp_path / "x.pt")
    assert torch.equal(artifacts.load_checkpoint(p)["a"], torch.ones(3))
    assert not list(tmp_path.glob("*.tmp"))
    p.write_bytes(b"garbage")
    with pytest.raises(artifacts.CorruptCheckpointError, match="delete it"):
        artifacts.load_checkpoint(p)


def test_cached_tensors_recomputes_a_corrupt_entry_and_keeps_it(tmp_cache):
    calls = []
    make = lambda: calls.append(1) or {"v": torch.tensor(len(calls))}
    a = artifacts.cached_tensors("demo", {"k": 1}, make)
    b = artifacts.cached_tensors("demo", {"k": 1}, make)
    assert len(calls) == 1 and int(a["v"]) == int(b["v"]) == 1
    path = next((tmp_cache / "demo").glob("*.pt"))
    path.write_bytes(b"broken")
    with pytest.warns(UserWarning, match="recomputing"):
        artifacts.cached_tensors("demo", {"k": 1}, make)
    assert len(calls) == 2 and list((tmp_cache / "demo").glob("*.corrupt"))


def test_keys_change_with_every_setting():
    k = artifacts.make_key("victim", {"a": 1, "b": "x"})
    assert k == artifacts.make_key("victim", {"b": "x", "a": 1})
    assert k != artifacts.make_key("victim", {"a": 2, "b": "x"})
    assert k != artifacts.make_key("generator", {"a": 1, "b": "x"})


def test_results_records(tmp_path):
    r = artifacts.Results("nb", "ci", "CPU", root=tmp_path)
    r.add("fig4", "cifar10", "resnet18", "confoundergan", "p=100%", "test_acc", 0.3, paper_value=0.112)
    r.add("fig4", "cifar10", "resnet18", "confoundergan", "p=100%", "test_acc", 0.25)  # replaces
    with pytest.raises(ValueError, match="fraction"):
        r.add("fig4", "cifar10", "resnet18", "natural", "p=100%", "test_acc", 87.0)
    path = r.save()
    body = json.loads(path.read_text())
    assert len(body["records"]) == 1
    rec = body["records"][0]
    assert set(artifacts.RECORD_FIELDS) <= set(rec) and rec["value"] == 0.25
    assert artifacts.load_results(tmp_path)[0]["notebook"] == "nb"


def test_cli_help_lists_the_commands():
    out = subprocess.run([sys.executable, "-m", "cgan_lib", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for cmd in ("profiles", "data", "train", "protect", "book"):
        assert cmd in out.stdout


def test_cli_errors_are_clear(capsys):
    assert main(["train", "--profile", "fast"]) == 2
    assert "Valid profiles: ci, quick, paper" in capsys.readouterr().err
    assert main(["data", "mnist-ish"]) == 2
    assert "Unknown dataset" in capsys.readouterr().err
    assert main(["profiles"]) == 0
    assert "departs from the paper" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="--seeds '0,one': give integers"):
        main(["book", "--seeds", "0,one", "--no-build"])


def test_atomic_writes_get_the_umask_permissions(tmp_path):
    import os
    from cgan_lib.artifacts import atomic_write_text
    old = os.umask(0o022)
    try:
        p = atomic_write_text("x", tmp_path / "a.json")
        assert (p.stat().st_mode & 0o777) == 0o644          # not mkstemp's 0600
        os.umask(0o077)
        assert (atomic_write_text("y", tmp_path / "b.json").stat().st_mode & 0o777) == 0o600
    finally:
        os.umask(old)


def test_read_run_is_the_one_reader_of_a_runs_chapter_files(tmp_path):
    from cgan_lib.artifacts import Results, load_results, read_run
    r = Results("01_a", "ci", "CPU", root=str(tmp_path))
    r.add("fig2", "fashion-mnist", "resnet18", "natural", "", "test_acc", values=[0.8, 0.82], seeds=[0, 1])
    r.save()
    (tmp_path / "ci" / "_status.json").write_text("{}")          # not a chapter file: skipped
    run = read_run(tmp_path / "ci")
    assert [d["notebook"] for d in run] == ["01_a"] and run[0]["device"] == "CPU"
    assert run[0]["written"] and run[0]["records"][0]["notebook"] == "01_a"
    assert [x["method"] for x in load_results(tmp_path)] == ["natural"]
    assert load_results(tmp_path / "missing") == []
    (tmp_path / "ci" / "02_b.json").write_text('{"records": [')
    with pytest.raises(ValueError, match=r"02_b.json is not valid JSON.*git checkout -- .*run its notebook again"):
        read_run(tmp_path / "ci")
    (tmp_path / "ci" / "02_b.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="holds a list, not a notebook's results"):
        load_results(tmp_path)


def test_one_rounding_rule_for_every_shown_number():
    from cgan_lib.artifacts import num1, pct
    assert pct(0.70875) == "70.9" and num1(70.85) == "70.9" and num1(70.849999) == "70.8"
    # the same mean reached two ways (mean of percentages, 100 x mean of fractions) reads the same
    v = [0.7075, 0.7095]
    assert num1(sum(100 * x for x in v) / 2) == pct(sum(v) / 2) == "70.9"
    assert pct(-0.0004) == "0.0" and pct(0.072, sign=True) == "+7.2" and pct(-0.25) == "-25.0"
    assert num1(float("nan")) == "n/a"                   # the std of a single seed


def test_a_stop_time_stops_before_the_next_artifact_and_the_cache_still_answers(tmp_cache,
                                                                                 monkeypatch):
    calls = []
    make = lambda: calls.append(1) or {"v": torch.tensor(1)}
    artifacts.cached_tensors("demo", {"k": 1}, make)
    monkeypatch.setenv("CGAN_STOP_AT", "1")                    # long past
    assert int(artifacts.cached_tensors("demo", {"k": 1}, make)["v"]) == 1   # cached: no stop
    with pytest.raises(artifacts.DeadlineReached, match="run again to resume"):
        artifacts.cached_tensors("demo", {"k": 2}, make)
    with pytest.raises(artifacts.DeadlineReached, match="stopped before computing demo/"):
        artifacts.cached_json("demo", {"k": 3}, lambda: {"a": 1})
    assert len(calls) == 1 and not list((tmp_cache / "demo").glob("*.json"))
    monkeypatch.setenv("CGAN_STOP_AT", "next week")
    with pytest.raises(ValueError, match="is not a time"):
        artifacts.cached_tensors("demo", {"k": 2}, make)
    monkeypatch.setenv("CGAN_STOP_AT", str(4e9))               # far ahead: computes
    artifacts.cached_tensors("demo", {"k": 2}, make)
    assert len(calls) == 2


def test_stop_at_reads_a_clock_time_or_a_date(capsys):
    import datetime as dt
    from cgan_lib.cli import parse_stop_at
    now = dt.datetime(2026, 12, 8, 10, 0).timestamp()
    assert parse_stop_at("12:30", now) == dt.datetime(2026, 12, 8, 12, 30).timestamp()
    assert parse_stop_at("09:00", now) == dt.datetime(2026, 12, 9, 9, 0).timestamp()  # tomorrow
    assert parse_stop_at("2026-12-10 08:15", now) == dt.datetime(2026, 12, 10, 8, 15).timestamp()
    with pytest.raises(ValueError, match="already passed"):
        parse_stop_at("2026-12-01 08:15", now)
    with pytest.raises(ValueError, match="give HH:MM"):
        parse_stop_at("soon", now)
    assert main(["book", "--stop-at", "soon", "--no-build"]) == 2
    assert "give HH:MM" in capsys.readouterr().err
