"""The book: badges, parameters cells, and a full build from executed notebooks (profile ci)."""
import json
import re
from pathlib import Path

import pytest

from cgan_lib import book

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_notebooks_exist_in_order():
    names = [n.stem for n in NOTEBOOKS]
    assert names[:3] == ["01_class_wise_patches", "02_confoundergan", "03_mixes"]
    toc = (ROOT / "_toc.yml").read_text()
    for n in names:
        assert f"notebooks/{n}" in toc


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_structure(nb):
    cells = json.loads(nb.read_text())["cells"]
    assert book.colab_badge(nb, ROOT) in "".join(cells[0]["source"])   # badge from _config.yml
    install = "".join(cells[1]["source"])
    assert "google.colab" in install and "remove-cell" in cells[1]["metadata"]["tags"]
    params = [c for c in cells if "parameters" in c["metadata"].get("tags", [])]
    assert len(params) == 1 and 'os.environ.get("CGAN_PROFILE"' in "".join(params[0]["source"])
    assert not any(c.get("outputs") for c in cells if c["cell_type"] == "code"), "commit notebooks without outputs"
    assert any("assert " in "".join(c["source"]) for c in cells if c["cell_type"] == "code"), \
        "each chapter asserts its key claims"


def _rec(profile, dataset, arch, method, values, **kw):
    m = sum(values) / len(values)
    sd = (sum((v - m) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return {"experiment": "table2", "dataset": dataset, "arch": arch, "method": method,
            "setting": "No augmentation", "metric": "test_acc", "value": m, "values": values,
            "seeds": list(range(len(values))), "std": sd, "n_seeds": len(values),
            "profile": profile, "device": "CPU", "seconds": 1.0, "epochs": 6, **kw}


def test_scoreboard_and_status_from_records(tmp_path, monkeypatch):
    monkeypatch.setenv("CGAN_RESULTS", str(tmp_path / "results"))   # the book reads where Results writes
    paper_kw = dict(paper_value=0.112, paper_dataset="cifar10", paper_arch="resnet18")
    for prof, ds, arch in (("ci", "fashion-mnist", "resnet18x0.25"), ("paper", "cifar10", "resnet18")):
        res = tmp_path / "results" / prof
        res.mkdir(parents=True)
        recs = [_rec(prof, ds, arch, "confoundergan", [0.5, 0.52], **paper_kw),
                _rec(prof, ds, arch, "natural", [0.84, 0.85])]
        if prof == "ci":
            recs.append({"experiment": "claims", "dataset": ds, "arch": arch, "method":
                         "table2.ours_below_natural", "setting": "", "metric": "claim_difference",
                         "value": 0.335, "std": 0.01, "n_seeds": 2, "status": "holds",
                         "profile": prof, "device": "CPU", "seconds": None})
        (res / "02.json").write_text(json.dumps({"notebook": "02", "records": recs}))
    (tmp_path / "results" / "ci" / "_status.json").write_text(json.dumps({"notebooks": [
        {"notebook": "02", "profile": "ci", "status": "ok", "seconds": 12.0, "device": "CPU",
         "started": "x", "peak_rss_mb": 1234, "computed": 0, "note": "paused for an hour",
         "cold": {"seconds": 380.0, "peak_rss_mb": 2345, "computed": 40, "device": "CPU",
                  "cpu": "AMD EPYC (avx2)", "started": "y"}}]}))
    board = book.scoreboard_tables()
    assert "Table 2" in board and "11.2 (cifar10)" in board
    ci_row = next(l for l in board.splitlines() if l.startswith("| confoundergan"))
    assert "51.0 ± 1.4 (2); gap 33.5" in ci_row            # ours: mean ± std (seeds), gap to natural
    assert ci_row.count("ours - paper") == 1 and "ours - paper +39.8" in ci_row   # only the paper profile
    claims = book.claims_table()
    assert "**holds** (+33.5 ± 1.0 pts, 2 seeds)" in claims
    # each row names the margin its verdict used
    assert "needs ConfounderGAN at least 20 points below natural" in claims
    assert "needs ConfounderGAN below EMN;" in claims
    assert "not yet measured" in claims                      # every other claim is listed too
    assert all(len(l.split("|")) <= 7 for l in claims.splitlines())   # narrow: no sideways scrolling
    goals = book.claims_table(goals=True)                   # the project's goals, apart
    assert "the project's goal" in goals and "Chapter 9 goal" in goals
    assert "Chapter 9 goal" not in claims and "the paper's claim" in claims
    status = book.status_table()
    assert "| 02 | ok | 12 s | 380 s, 40 artifacts | 2,345 MB | y |" in status
    assert "* 02: paused for an hour" in status              # a note explains a time
    # the cold run names its CPU; the last run (older) did not record one, and says so
    assert "### Profile `ci`" in status and \
        "Device: CPU. CPU: AMD EPYC (avx2); not recorded (older runs)." in status
    assert book.scoreboard_figure(tmp_path / "dots.png").is_file()
    (tmp_path / "results" / "quick").mkdir(exist_ok=True)
    (tmp_path / "results" / "quick" / "_status.json").write_text(json.dumps({"notebooks": [
        {"notebook": "01", "profile": "quick", "status": "ok", "seconds": 9.0, "device": "CPU",
         "started": "z"},
        {"notebook": "02", "profile": "quick", "status": "ok", "seconds": 99.0, "device": "CPU",
         "started": "w", "cold": {"seconds": 99.0, "computed": 3, "device": "CPU", "started": "w",
                                  "seeds": [0, 1]}},
        {"notebook": "05", "profile": "quick", "status": "ok", "seconds": 50.0, "device": "CPU",
         "started": "v", "cold": {"seconds": 50.0, "computed": 8, "device": "CPU", "started": "v",
                                  "jobs": 2}}]}))
    status = book.status_table()
    assert "Device: CPU. CPU: not recorded (older runs)." in status
    assert "99 s, 3 artifacts (seeds 0, 1 by `--seeds`)" in status   # a run off the profile's seeds
    assert "50 s, 8 artifacts (`--jobs 2`: seeds in parallel)" in status


def test_the_book_builds_from_executed_notebooks():
    """Builds the book from the notebooks nbval executed in this session (``make test``:
    each notebook runs once), or else runs the book command (profile ci); then reads the
    HTML as a reader would."""
    done = book.EXECUTED_THIS_SESSION
    if done:
        bad = {n: s for n, s in done.items() if s != "ok"}
        assert not bad, f"notebooks failed under nbval: {bad}"
        missing = [nb.stem for nb in NOTEBOOKS if nb.stem not in done]
        assert not missing, f"nbval did not execute {missing}: run pytest --nbval-lax notebooks tests"
        book.build_html(ROOT, ROOT / "book" / "_build" / "stage")
    else:
        assert book.run_book("ci") == 0
    html = ROOT / "book" / "_build" / "html"
    pages = {p.stem: p.read_text() for p in html.rglob("*.html")}
    for nb in NOTEBOOKS:
        page = pages.get(nb.stem)
        assert page is not None, f"no page for {nb.stem}"
        assert "Traceback" not in page and "AssertionError" not in page
        assert len(re.findall(r"<img [^>]*src=\"[^\"]*\.png\"", page)) >= 2, f"{nb.stem} shows no figures"
        assert "colab.research.google.com/github/" in page
        assert "injected-parameters" not in page
    for name in ("intro", "setup", "scoreboard", "status", "references"):
        assert name in pages, name
    assert "profile" in pages["status"] and "ci" in pages["status"]
    assert "Table 2" in pages["scoreboard"] and "11.2" in pages["scoreboard"]
    assert "holds" in pages["scoreboard"] or "undecided" in pages["scoreboard"]
    assert "scoreboard_dots.png" in pages["scoreboard"]
    assert "Huang" in pages["references"]


def test_scoreboard_keeps_architectures_and_datasets_apart(tmp_path, monkeypatch):
    """Table 1 has one row per victim architecture (and per dataset where a profile ran
    several); the gap to natural is taken within the same architecture."""
    monkeypatch.setenv("CGAN_RESULTS", str(tmp_path / "results"))
    recs = []
    for ds in ("svhn", "cifar10"):
        for arch, nat, ours in (("vgg11", [0.9, 0.92], [0.3, 0.32]), ("resnet50", [0.8, 0.8], [0.1, 0.1])):
            recs += [_rec("paper", ds, arch, "natural", nat, experiment="table1"),
                     _rec("paper", ds, arch, "confoundergan", ours, experiment="table1")]
    (tmp_path / "results" / "paper").mkdir(parents=True)
    (tmp_path / "results" / "paper" / "04.json").write_text(json.dumps({"notebook": "04", "records": recs}))
    board = book.scoreboard_tables()
    rows = [l for l in board.splitlines() if l.startswith("| confoundergan")]
    assert len(rows) == 4, rows                           # 2 architectures x 2 datasets
    vgg = next(l for l in rows if "vgg11, svhn" in l)
    assert "31.0 ± 1.4 (2); gap 60.0" in vgg                # natural VGG11 91.0 minus ours 31.0
    assert "gap 70.0" in next(l for l in rows if "resnet50, cifar10" in l)
    assert book.base_arch("resnet18x0.25") == "resnet18" and book.base_arch("densenet121") == "densenet121"


def test_status_page_lists_the_benchmarks_with_their_machine(tmp_path):
    (tmp_path / "ratios-cpu.json").write_text(json.dumps({
        "machine": "CPU (2 threads)", "cpu": "AMD EPYC", "cpu_isa": ["avx2"], "written": "2026-01-01", "protect_images_per_s": 5000.0,
        "emn_seconds_per_image_per_round": 0.2, "protect_vs_emn_ratio": 1000.0,
        "victim_speed_ratio": 1.4}))
    (tmp_path / "quick_sizing-cpu.json").write_text(json.dumps({
        "machine": "CPU (2 threads)", "written": "2026-01-02", "n_test": 2000, "rows": [
            {"n_train": 20000, "width": 0.25, "epochs": 10, "seed": 0, "final_test_acc": 0.709,
             "early_stop_test_acc": 0.705, "train_seconds": 151.0}]}))
    (tmp_path / "augment-cpu.json").write_text(json.dumps({
        "machine": "CPU (2 threads)", "written": "2026-01-03", "batch": 128, "image": [3, 32, 32],
        "augment_rows": [{"transform": "flip", "ours_ms": 2.0, "kornia_ms": 0.5,
                          "kornia_over_ours": 0.25}], "note": "one warm-up call"}))
    (tmp_path / "seed_jobs-quick-cpu.json").write_text(json.dumps({
        "machine": "CPU (2 threads)", "written": "2026-01-04", "profile": "quick", "epochs": 1,
        "jobs": 2, "threads": 2, "serial_train_seconds": [29.0, 29.4],
        "parallel_train_seconds": [38.0, 40.1], "seed_jobs_speedup": 1.46,
        "provenance": "measured before the profile changed"}))
    (tmp_path / "cpu_compile-cpu.json").write_text(json.dumps({
        "machine": "CPU (2 threads)", "written": "2026-01-05", "profiles": {
            "quick": {"eager": [{"seconds": 55.5, "epochs": 1}, {"seconds": 52.1, "epochs": 1}],
                      "compile": [{"seconds": 133.4, "epochs": 1}, {"seconds": 48.8, "epochs": 1}],
                      "compile_speedup": 0.59, "compile_speedup_after_first": 1.07,
                      "written": "2025-12-31 10:00:00", "provenance": "an older quick"},
            "ci": {"eager": [{"seconds": 20.0, "epochs": 4}],
                   "compile": {"error": "no C++ compiler"}}}}))
    (tmp_path / "stem_stride-ci-cpu.json").write_text(json.dumps({
        "machine": "CPU (2 threads)", "written": "2026-01-06", "profile": "ci", "arch": "resnet18",
        "width": 0.25, "batch": 64, "image": [1, 28, 28], "stem_stride_ms": {"1": 246.0, "2": 92.0},
        "stem_stride_speedup": 2.67}))
    page = book.benchmarks_table(tmp_path)
    assert "| stride 1 (the CIFAR stem) | 246 |" in page and "| stride 2 over stride 1 | 2.67x faster |" in page
    assert "| `quick` (2025-12-31) | 56 + 52 (1 epoch) | 133 + 49 (1 epoch) | 0.59x | 1.07x |" in page
    assert "`quick`'s row: an older quick." in page     # a row kept from an earlier run says so
    assert "| `ci` | 20 (4 epochs) | failed: no C++ compiler |  |  |" in page
    assert "| at once, 1 thread(s) each | 38 and 40 |" in page
    assert "| victims per hour, `--jobs 2` over one process | 1.46x |" in page
    # a measurement of an earlier version of a profile says so in its heading
    assert "CPU (2 threads), 2026-01-04; measured before the profile changed)" in page
    assert "`protect_vs_emn_ratio` (goal: at least 1,000) | 1,000: **met** |" in page
    assert "(goal: at least 1 on a CPU) | 1.40: **met** |" in page
    assert book._at_least(969.3, 1000) == ": **missed**"
    assert "| 20,000 | 0.25 | 1 | 10 | 0 | 70.9% | 70.5% | 151 s |" in page   # no stride recorded: 1
    assert "| flip | 2.00 | 0.50 | 0.25 |" in page
    assert page.count("CPU (2 threads)") == 6                 # each measurement names its machine
    assert "CPU (2 threads) on AMD EPYC (avx2), 2026-01-01" in page   # and its CPU where known
    assert "No benchmark" in book.benchmarks_table(tmp_path / "none")


def test_book_costs_keep_this_machines_rows_and_render_with_the_ci_total(tmp_path):
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "book_costs", Path(book.project_root()) / "benchmarks" / "book_costs.py")
    bc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bc)
    status = {"notebooks": [
        {"notebook": "01_a", "cold": {"seconds": 60.0, "peak_rss_mb": 900, "computed": 4,
                                      "cpu": "AMD EPYC (avx512_bf16)", "device": "CPU"}},
        {"notebook": "02_b", "cold": {"seconds": 500.0, "peak_rss_mb": 1500, "computed": 9,
                                      "cpu": "AMD EPYC (avx2)", "device": "CPU"}},   # another machine
        {"notebook": "03_c"},                                                        # never computed
        {"notebook": "04_e", "cold": {"seconds": 70.0, "peak_rss_mb": 800, "computed": 3,
                                      "cpu": "AMD EPYC (avx512_bf16)", "seeds": [0, 1]}},  # --seeds
        {"notebook": "10_d", "seconds": 12.0, "computed": 0, "cpu": "AMD EPYC (avx512_bf16)"}]}
    rows = bc.costs(status, "AMD EPYC (avx512_bf16)")
    assert [r["notebook"] for r in rows] == ["01_a", "04_e"]
    assert "seeds" not in rows[0] and rows[1]["seeds"] == [0, 1]
    # a chapter that only read earlier chapters' artifacts is listed apart, not summed
    assert [r["notebook"] for r in bc.warm_only(status, "AMD EPYC (avx512_bf16)")] == ["10_d"]
    assert len(bc.costs(status, None)) == 3
    log = tmp_path / "ci.log"
    log.write_text("...\n202 passed in 900.1s\nCI finished in 1234 s\n")
    assert bc.read_ci_log(log) == {"ci_seconds": 1234, "ci_tests_passed": 202}
    log.write_text("killed\n")
    with pytest.raises(SystemExit, match="CI finished"):
        bc.read_ci_log(log)
    (tmp_path / "book-ci-cpu.json").write_text(json.dumps({
        "machine": "CPU (2 threads)", "written": "2026-01-04", "profile": "ci", "notebook_rows": rows,
        "notebooks_seconds": 60.0, "paper_chapters_seconds": 60.0, "peak_rss_mb": 900,
        "not_cold": bc.warm_only(status, "AMD EPYC (avx512_bf16)"), "goal_seconds": 1200,
        "goal_reads": "the paper's seven chapters together", "ci_seconds": 1234,
        "ci_tests_passed": 202}))
    page = book.benchmarks_table(tmp_path)
    assert "| 01_a | 60 s | 900 MB | 4 |" in page
    assert "| 04_e (seeds 0, 1 only, by `--seeds`) | 70 s | 800 MB | 3 |" in page
    assert "| 10_d | 12 s | | 0 (reads artifacts of earlier chapters; not counted) |" in page
    assert ("| **chapters 01-07** | **60 s** (goal for the paper's seven chapters together: "
            "at most 20 minutes): **met** | | |") in page
    assert "202 tests, book build): 1,234 s (goal: at most 1,800 s): **met**." in page
    (tmp_path / "book-ci-cpu.json").write_text(json.dumps({
        **json.loads((tmp_path / "book-ci-cpu.json").read_text()), "paper_chapters_seconds": 1342.0,
        "ci_seconds": 2452}))
    page = book.benchmarks_table(tmp_path)
    assert "at most 20 minutes): **missed** by 12% |" in page
    assert "1,800 s): **missed** by 36%." in page
    # quick's goal is per notebook: each row is held to it, not the sum
    (tmp_path / "book-ci-cpu.json").unlink()
    (tmp_path / "book-quick-cpu.json").write_text(json.dumps({
        "machine": "CPU (2 threads)", "written": "2026-01-04", "profile": "quick",
        "notebook_rows": [{**rows[0], "seconds": 5000.0}, {**rows[1], "seconds": 9000.0}],
        "notebooks_seconds": 14000.0, "peak_rss_mb": 900, "goal_seconds": 7200,
        "goal_reads": "each notebook"}))
    page = book.benchmarks_table(tmp_path)
    assert "| 9,000 s (over the goal by 25%) |" in page and "| 5,000 s |" in page
    assert "at most 120 minutes): **missed** by the notebooks marked |" in page


def test_quick_sizing_reads_its_candidates_before_training():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "quick_sizing", Path(book.project_root()) / "benchmarks" / "quick_sizing.py")
    qs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(qs)
    assert qs.parse_candidate("20000:0.25:10") == ("20000", "0.25", "10", 1)
    assert qs.parse_candidate("20000:0.25:10:2")[3] == 2
    for bad in ("20000:0.25", "20000:quarter:10", "20000:0.25:10:3"):
        with pytest.raises(SystemExit, match="n_train:width:epochs"):
            qs.parse_candidate(bad)


def test_the_books_typed_validation_share_matches_every_profile():
    """Chapters 02, 04, 05 and the set-up page say the trainer holds out 10%: if a profile
    changes ``val_fraction``, this fails and the text must change with it."""
    import re
    from cgan_lib.profiles import PROFILES
    root = Path(book.project_root())
    texts = {p.name: p.read_text() for p in [*(root / "notebooks").glob("0[245]_*.ipynb"),
                                             root / "book" / "setup.md"]}
    said = {n: re.findall(r"(\d+)% (?:of what it downloaded|for validation|of the data it "
                          r"downloaded)", t) for n, t in texts.items()}
    assert all(said.values()), f"a page no longer states the hold-out: {said}"
    shares = {float(x) / 100 for v in said.values() for x in v}
    assert shares == {p.val_fraction for p in PROFILES.values()}, (shares, PROFILES)


def test_seed_jobs_split_threads_and_skip_what_cannot_split():
    assert book.seed_jobs([0, 1], 2, 2) == [(0, {"CGAN_THREADS": "1"}), (1, {"CGAN_THREADS": "1"})]
    assert book.seed_jobs([0, 1, 2], 2, 8)[2] == (2, {"CGAN_THREADS": "4"})
    assert book.seed_jobs([0], 2, 2) == []          # one seed: nothing to split
    assert book.seed_jobs([0, 1], 1, 2) == []       # one job: the usual run
    with pytest.raises(ValueError, match="--jobs 0"):
        book.seed_jobs([0, 1], 0, 2)
    with pytest.raises(ValueError, match="--jobs 0"):             # the runner's entry too
        book.fill_cache(Path("99_none.ipynb"), "ci", [0, 1], 0)
    assert book.fill_cache(Path("99_none.ipynb"), "ci", [0, 1], 1) == 1   # nothing to run


def _tiny_notebook(path: Path, body: str):
    cell = lambda src, tags=(): {"cell_type": "code", "metadata": {"tags": list(tags)},
                                 "source": src, "outputs": [], "execution_count": None}
    nb = {"cells": [cell("profile = 'ci'\nseeds = None\ndata_root = None", ["parameters"]),
                    cell(body)],
          "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                      "language": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))


def test_prefill_runs_one_process_per_seed_and_reports_a_seed_that_stopped(tmp_path):
    out = tmp_path / "seen"
    out.mkdir()
    nb = tmp_path / "99_tiny.ipynb"
    _tiny_notebook(nb, "import os, pathlib\n"
                       f"pathlib.Path({str(out)!r}, f'seed{{seeds[0]}}').write_text("
                       "os.environ['CGAN_THREADS'] + ' ' + os.environ['CGAN_RESULTS'])\n"
                       "assert seeds != [7], 'seed 7 fails'")
    assert book._prefill(nb, "ci", [0, 1], 2, None, 60, tmp_path / "work") == {}
    seen = {p.name: p.read_text().split() for p in out.iterdir()}
    assert set(seen) == {"seed0", "seed1"}
    assert all(t == "1" for t, _ in seen.values())                      # threads // jobs
    assert len({r for _, r in seen.values()}) == 2                     # a results folder each
    stopped = book._prefill(nb, "ci", [0, 7], 2, None, 60, tmp_path / "work2")
    assert list(stopped) == [7] and "seed 7 fails" in stopped[7]   # reported, not raised


def _claim(name, status, value, setting=""):
    return {"experiment": "claims", "dataset": "fashion-mnist", "arch": "resnet18x0.25",
            "method": name, "setting": setting, "metric": "claim_difference", "value": value,
            "std": 0.05, "n_seeds": 2, "status": status, "profile": "ci", "device": "CPU",
            "seconds": None}


def test_stability_table_compares_reruns(tmp_path, monkeypatch):
    from cgan_lib.artifacts import load_results
    monkeypatch.setenv("CGAN_RESULTS", str(tmp_path / "results"))
    assert "nothing to compare" in book.stability_table("ci")
    a = tmp_path / "results" / "ci"
    b = tmp_path / "results" / "reruns" / "ci-cpu-amd-epyc-avx2"
    for d in (a, b):
        d.mkdir(parents=True)
    (a / "02.json").write_text(json.dumps({"notebook": "02", "records": [
        _claim("table2.ours_below_natural", "holds", 0.3),
        _claim("table2.ours_below_emn", "holds", 0.1),
        _claim("table2.ours_below_natural_rhf_rc", "undecided at this scale", 0.1)]}))
    (b / "02.json").write_text(json.dumps({"notebook": "02", "records": [
        _claim("table2.ours_below_natural", "holds", 0.28),
        _claim("table2.ours_below_emn", "does not hold", -0.1),
        _claim("table2.ours_below_natural_rhf_rc", "does not hold", 0.0)]}))
    (b / "_status.json").write_text(json.dumps({"notebooks": [
        {"notebook": "02", "cold": {"cpu": "AMD EPYC (avx2)"}}]}))
    assert len(load_results()) == 3                  # the rerun is not read as results
    t = book.stability_table("ci")
    assert "Run B: CPU on AMD EPYC (avx2)" in t
    assert "of 3 verdicts 1 are the same, 1 move between a verdict and *undecided*, and 1 are reversed" in t
    rows = [l for l in t.splitlines() if l.startswith("| ") and "claim or goal" not in l]
    assert len(rows) == 2                              # only what changed
    assert any("**holds** (+10.0" in r and "**does not hold** (-10.0" in r for r in rows)
    assert book.verdict_change("holds", "holds") == "same"
    # a rerun whose models differ (another stem) is named, not compared
    c = tmp_path / "results" / "reruns" / "ci-cpu-other"
    c.mkdir()
    (c / "02.json").write_text(json.dumps({"notebook": "02", "records": [
        {**_claim("table2.ours_below_natural", "does not hold", -0.2), "arch": "resnet18x0.25-s2"}]}))
    t = book.stability_table("ci")
    assert "Not compared:" in t and "resnet18x0.25-s2 against run A's resnet18x0.25" in t
    assert "Run B: CPU on AMD EPYC (avx2)" in t and "Run C" not in t
    assert "| run A | run B |" in t


def test_arch_label_names_width_and_stem():
    from types import SimpleNamespace
    from cgan_lib.experiment import Experiment
    from cgan_lib.profiles import get_profile
    e = object.__new__(Experiment)
    for prof, size, want in (("ci", (28, 28), "resnet18x0.25-s2"), ("quick", (32, 32), "resnet18x0.25"),
                             ("paper", (32, 32), "resnet18"), ("ci", (64, 64), "resnet18x0.25")):
        e.profile, e.data = get_profile(prof), SimpleNamespace(image_size=size)
        assert e.arch_label() == want, (prof, size)
    assert e.arch_label("vgg11") == "vgg11x0.25"
    assert book.base_arch("resnet18x0.25-s2") == "resnet18"


def test_seed_bars_writes_each_mean_once():
    import matplotlib
    matplotlib.use("Agg")
    import pandas as pd
    from cgan_lib import plots
    df = pd.DataFrame([dict(trainer=t, data=d, test_acc=v) for t, d, vals in
                       [("MixUp", "natural", (68.8, 68.4)), ("MixUp", "ours", (10.1, 10.7)),
                        ("FA", "natural", (70.8, 70.0)), ("FA", "ours", (70.7, 70.9))]
                       for v in vals])
    fig = plots.seed_bars(df, x="trainer", hue="data")
    ax = fig.axes[0]
    labels = sorted(t.get_text() for t in ax.texts)
    assert labels == ["10.4", "68.6", "70.4", "70.8"]
    assert ax.get_legend().get_bbox_to_anchor().x0 >= ax.get_window_extent().x1 - 1  # outside
    # a tie rounds as every table does (num1: half up), not by the float's last bit
    tie = pd.DataFrame({"m": ["a", "a"], "test_acc": [72.1, 72.0]})
    assert [t.get_text() for t in plots.seed_bars(tie, x="m").axes[0].texts] == ["72.1"]


def _probe(tmp, name, profile, trainer, settings):
    d = tmp / "results" / "probes"
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(json.dumps({
        "machine": "CPU", "cpu": "AMD EPYC", "cpu_isa": ["avx2"], "written": "2026-12-07",
        "profile": profile, "trainer": trainer,
        "settings": {k: {"seeds": {str(s): {"test_acc": v} for s, v in vals.items()}}
                     for k, vals in settings.items()}}))


def test_remeasured_table_checks_a_chapter_claim_again_on_a_probes_seeds(tmp_path, monkeypatch):
    from cgan_lib import probes
    monkeypatch.setenv("CGAN_RESULTS", str(tmp_path / "results"))
    assert "No committed probe" in probes.remeasured_table("quick")
    ch = tmp_path / "results" / "quick"
    ch.mkdir(parents=True)
    rec = lambda m, vals: {"experiment": "sec4.2-cwn", "method": m, "setting": "RHF+RC",
                           "metric": "test_acc", "seeds": [0, 1, 2], "values": vals}
    (ch / "01_class_wise_patches.json").write_text(json.dumps({
        "notebook": "01_class_wise_patches", "written": "2026-11-30", "device": "CPU",
        "records": [rec("natural", [0.75, 0.77, 0.75]), rec("cwn", [0.18, 0.11, 0.62])]}))
    # one probe with the same victims on more seeds, one with another trainer (not comparable)
    _probe(tmp_path, "p-quick.json", "quick", "flip+crop",
           {"natural": {0: 0.76, 1: 0.76, 3: 0.76, 4: 0.77},
            "cwn": {0: 0.25, 1: 0.67, 3: 0.70, 4: 0.30, 5: 0.2}})
    _probe(tmp_path, "p-none.json", "quick", "none", {"natural": {0: 0.7}, "cwn": {0: 0.1}})
    _probe(tmp_path, "p-ci.json", "ci", "flip+crop", {"natural": {0: 0.7}, "cwn": {0: 0.1}})
    # a second probe of the same victims, and one of another dataset's victims
    _probe(tmp_path, "q-quick.json", "quick", "flip+crop", {"natural": {7: 0.7}, "cwn": {7: 0.3}})
    t = probes.remeasured_table("quick")
    rows = [l for l in t.splitlines() if l.startswith("| Class-wise")]
    assert len(rows) == 3                         # the chapter's run once, then each probe
    assert sum("01_class_wise_patches.json" in r for r in rows) == 1
    assert "q-quick.json" in rows[2] and "| seeds 7: " in rows[2]
    assert "01_class_wise_patches.json" in rows[0] and "**holds**" in rows[0]
    # the probe is paired on the seeds both settings ran (0, 1, 3, 4), not seed 5
    assert "p-quick.json" in rows[1] and "| seeds 0, 1, 3, 4: " in rows[1]
    assert "class-wise noise 25.0, 67.0, 70.0, 30.0; natural 76.0, 76.0, 76.0, 77.0" in rows[1]
    assert all(r.count(" | ") == 3 for r in rows)  # four columns
    assert "**undecided at this scale**" in rows[1]
    (tmp_path / "results" / "probes" / "p-quick.json").write_text("{not json")
    with pytest.raises(ValueError, match="p-quick.json is not valid JSON.*git checkout -- "
                                         "results/probes/p-quick.json"):
        probes.remeasured_table("quick")
    (tmp_path / "results" / "probes" / "p-quick.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="p-quick.json holds a list"):
        probes.remeasured_table("quick")
    bad = [{**rec("cwn", [0.1, 0.2]), "notebook": "01"}]          # 3 seeds, 2 values
    with pytest.raises(ValueError, match="3 seeds but 2 values; rerun that chapter"):
        probes.chapter_values(bad, "sec4.2-cwn", "cwn", "RHF+RC")
    other = [{**rec("cwn", [0.1, 0.2, 0.3]), "dataset": "fashion-mnist"}]
    assert probes.chapter_values(other, "sec4.2-cwn", "cwn", "RHF+RC", dataset="cifar10") == {}


def test_cpu_compile_keeps_the_rows_it_did_not_measure():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "cpu_compile", Path(book.project_root()) / "benchmarks" / "cpu_compile.py")
    cc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cc)
    old = {"written": "2026-01-01 00:00:00", "provenance": "an older ci",
           "profiles": {"ci": {"compile_speedup": 0.3}, "quick": {"compile_speedup": 0.6}}}
    kept = cc.kept_rows(old, ["ci"])
    assert list(kept) == ["quick"]                        # the re-measured row is not kept
    assert kept["quick"]["written"] == "2026-01-01 00:00:00"
    assert kept["quick"]["provenance"] == "an older ci"   # the file's note goes with its rows
    assert cc.kept_rows({"profiles": {"quick": {"written": "x"}}}, [])["quick"] == {"written": "x"}


def test_paper_beside_ours_names_the_paper_only_where_it_has_a_number():
    import matplotlib
    matplotlib.use("Agg")
    import pandas as pd
    from cgan_lib import plots
    ours = pd.DataFrame([dict(data=d, victim="ours", test_acc=v) for d, v in
                         [("natural", 80.0), ("natural", 82.0), ("protected", 70.0), ("protected", 74.0)]])
    theirs = pd.DataFrame([dict(data="natural", victim="ours", test_acc=87.4, dataset="cifar10")])
    labels = lambda ax: [t.get_text() for t in ax.get_legend().get_texts()]
    ax = plots.paper_beside_ours(ours, theirs, x="data", hue="victim").axes[0]
    assert "the paper (cifar10)" in labels(ax)
    ax = plots.paper_beside_ours(ours, theirs.iloc[0:0], x="data", hue="victim").axes[0]
    assert not any("the paper" in t for t in labels(ax))


def test_curves_put_whole_epochs_on_the_x_axis():
    import matplotlib
    matplotlib.use("Agg")
    from cgan_lib import plots
    h = {"train_acc": [0.1, 0.3, 0.5, 0.6], "test_acc": [0.1, 0.2, 0.4, 0.5]}
    fig = plots.curves({"natural": {0: h, 1: h}})
    fig.canvas.draw()
    ticks = fig.axes[0].get_xticks()
    assert len(ticks) and all(float(t).is_integer() for t in ticks)


def test_an_interrupted_chapter_is_recorded_and_keeps_its_last_whole_run(tmp_path, monkeypatch):
    import papermill
    monkeypatch.setenv("CGAN_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("CGAN_CACHE", str(tmp_path / "cache"))
    (tmp_path / "results" / "ci").mkdir(parents=True)
    (tmp_path / "results" / "ci" / "_status.json").write_text(json.dumps({"notebooks": [
        {"notebook": "03_mixes", "status": "ok", "seconds": 300.0, "computed": 18,
         "cold": {"seconds": 300.0, "computed": 18, "device": "CPU", "started": "earlier"}}]}))

    def stopped(src, out, **kw):   # two artifacts done, then the session ends
        for name in ("a.pt", "b.pt"):
            (tmp_path / "cache" / "victim").mkdir(parents=True, exist_ok=True)
            (tmp_path / "cache" / "victim" / name).write_bytes(b"x")
        raise KeyboardInterrupt("signal 15")
    monkeypatch.setattr(papermill, "execute_notebook", stopped)
    with pytest.raises(KeyboardInterrupt):
        book.execute_notebooks("ci", only=["03"], out_dir=tmp_path / "stage")
    row = json.loads((tmp_path / "results" / "ci" / "_status.json").read_text())["notebooks"][0]
    assert row["status"] == "interrupted" and row["computed"] == 2
    assert row["cold"]["seconds"] == 300.0          # the last whole run's cost, not the part
    assert "interrupted (2 artifacts cached: the next run resumes from them)" in book.status_table()


def test_a_chapter_resumed_over_several_runs_records_its_whole_cost(tmp_path, monkeypatch):
    """Each stopped run is kept; the run that completes the chapter carries their sum."""
    import papermill
    monkeypatch.setenv("CGAN_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("CGAN_CACHE", str(tmp_path / "cache"))
    (tmp_path / "results" / "quick").mkdir(parents=True)
    # a stopped run as runners before parts were kept wrote it (no "parts")
    (tmp_path / "results" / "quick" / "_status.json").write_text(json.dumps({"notebooks": [
        {"notebook": "03_mixes", "status": "interrupted", "seconds": 7000.0, "computed": 4,
         "peak_rss_mb": 3000, "device": "CPU", "started": "first", "note": "paused once"}]}))
    made = iter(range(100))

    def run(stop):
        def execute(src, out, **kw):
            for _ in range(3):
                (tmp_path / "cache" / "victim").mkdir(parents=True, exist_ok=True)
                (tmp_path / "cache" / "victim" / f"{next(made)}.json").write_text("{}")
            if stop:
                raise KeyboardInterrupt("signal 15")
        monkeypatch.setattr(papermill, "execute_notebook", execute)
        monkeypatch.setattr(book, "_tag_for_book", lambda out: None)
        book.execute_notebooks("quick", only=["03"], out_dir=tmp_path / "stage")

    status = lambda: json.loads((tmp_path / "results" / "quick" / "_status.json").read_text())["notebooks"][0]
    with pytest.raises(KeyboardInterrupt):
        run(stop=True)
    row = status()
    assert [p["started"] for p in row["parts"]][0] == "first" and len(row["parts"]) == 2
    assert [p["computed"] for p in row["parts"]] == [4, 3] and "cold" not in row
    assert "so far" in book.status_table() and "over 2 runs" in book.status_table()
    run(stop=False)
    row = status()
    c = row["cold"]
    assert row["status"] == "ok" and "parts" not in row
    assert c["total_computed"] == 4 + 3 + 3 and len(c["parts"]) == 2
    assert c["total_seconds"] == pytest.approx(7000.0 + c["parts"][1]["seconds"] + c["seconds"])
    assert c["peak_rss_mb"] == 3000
    assert book.cold_cost(c) == (c["total_seconds"], 10, 3)
    import importlib.util
    spec = importlib.util.spec_from_file_location("book_costs", ROOT / "benchmarks" / "book_costs.py")
    bc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bc)
    stopped = {"notebooks": [{"notebook": "09_x", "status": "interrupted", "seconds": 50.0, "computed": 2}]}
    assert bc.warm_only(stopped, None) == []   # a stopped run is not a reading cost
    assert bc.costs({"notebooks": [row]}, None)[0]["runs"] == 3
    assert "10 artifacts over 3 runs (resumed from the cache)" in book.status_table()
    assert row["note"] == "paused once"    # said of an earlier run, kept with the whole cost
    # a warm re-run afterwards keeps the whole cost
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **k: None)
    book.execute_notebooks("quick", only=["03"], out_dir=tmp_path / "stage")
    assert status()["cold"]["total_computed"] == 10
    assert "* 03_mixes: paused once" in book.status_table()


def test_costs_table_says_what_each_chapter_cost_and_where(tmp_path, monkeypatch):
    """The README's table: a whole run's cost with its CPU, precision and seeds; a chapter
    resumed over runs with their sum; a stopped one as under way; one not run as such."""
    monkeypatch.setenv("CGAN_RESULTS", str(tmp_path / "results"))
    amx = "Intel(R) Xeon(R) Processor (avx2, avx512f, avx512_bf16, amx_bf16)"
    rows = {"ci": [
        {"notebook": "01_class_wise_patches", "status": "ok", "seconds": 3.0, "computed": 0,
         "cold": {"seconds": 151.2, "computed": 11, "device": "CPU (2 threads, x86_64)",
                  "cpu": "AMD EPYC (avx2)"}}],
        "quick": [
        {"notebook": "01_class_wise_patches", "status": "ok", "seconds": 100.0, "computed": 3,
         "cold": {"seconds": 100.0, "computed": 3, "device": "CPU (2 threads, x86_64, bf16)",
                  "cpu": amx, "total_seconds": 7100.0, "total_computed": 9, "jobs": 2,
                  "parts": [{"seconds": 7000.0, "computed": 6, "cpu": amx}]}},
        {"notebook": "03_mixes", "status": "interrupted", "seconds": 60.0, "computed": 1,
         "note": "paused", "parts": [{"seconds": 7567.0, "cpu": "AMD EPYC (avx2)"},
                                     {"seconds": 60.0, "cpu": "AMD EPYC (avx2)"}]}]}
    for p, rs in rows.items():
        (tmp_path / "results" / p).mkdir(parents=True)
        (tmp_path / "results" / p / "_status.json").write_text(json.dumps({"notebooks": rs}))
    table = book.costs_table()
    line = lambda nb: next(l for l in table.splitlines() if l.startswith(f"| {nb} "))
    assert line("01_class_wise_patches") == (
        "| 01_class_wise_patches | 151 s, seeds 0, 1 (AMD EPYC, avx2, fp32) | 7,100 s over 2 runs, "
        "seeds 0, 1, 2 (Intel Xeon, amx_bf16, bf16, `--jobs 2`) |")
    assert "under way: 7,627 s so far over 2 runs (AMD EPYC, avx2) *" in line("03_mixes")
    assert line("03_mixes").split(" | ")[1] == "not yet run"
    assert "note on what this time includes" in table
    no = "no total: chapters missing or run on different CPUs"
    assert line("**all chapters**") == f"| **all chapters** | {no} | {no} |"   # chapters not run
    whole = [{"notebook": nb.stem, "status": "ok", "seconds": 1.0,
              "cold": {"seconds": 100.0, "computed": 1, "cpu": "AMD EPYC (avx2)"}}
             for nb in book.notebooks()]
    (tmp_path / "results" / "ci" / "_status.json").write_text(json.dumps({"notebooks": whole}))
    total = next(l for l in book.costs_table().splitlines() if l.startswith("| **all chapters**"))
    assert total.startswith(f"| **all chapters** | **{100 * len(whole):,} s** (AMD EPYC, avx2) |")
    assert all(f"| {nb.stem} |" in table for nb in book.notebooks())   # every chapter listed

    readme = tmp_path / "README.md"
    readme.write_text("# x\n\nintro\n")
    with pytest.raises(ValueError, match="no cost block"):
        book.write_readme_costs(readme)
    start, end = book.README_COSTS
    readme.write_text(f"# x\n\n{start}\nold table\n{end}\n\nafter\n")
    book.write_readme_costs(readme)
    text = readme.read_text()
    assert "old table" not in text and text.endswith(f"{end}\n\nafter\n")
    assert f"{start}\n{book.costs_table()}\n{end}" in text


def test_the_stop_time_inside_a_kernel_stops_the_run_as_interrupted(tmp_path, monkeypatch):
    """A DeadlineReached raised in a notebook's kernel (papermill reports it by name) is a
    stop, recorded as interrupted with what it cached; later notebooks do not start."""
    import papermill
    monkeypatch.setenv("CGAN_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("CGAN_CACHE", str(tmp_path / "cache"))
    started = []

    class KernelError(Exception):   # the shape of papermill's PapermillExecutionError
        ename, evalue = "DeadlineReached", "the stop time 2026-12-08 03:00 has passed"

    def run(src, out, **kw):
        started.append(Path(src).stem)
        (tmp_path / "cache" / "victim").mkdir(parents=True, exist_ok=True)
        (tmp_path / "cache" / "victim" / "a.json").write_text("{}")
        raise KernelError()
    monkeypatch.setattr(papermill, "execute_notebook", run)
    from cgan_lib.artifacts import DeadlineReached
    with pytest.raises(DeadlineReached, match="stop time"):
        book.execute_notebooks("quick", only=["03", "04"], out_dir=tmp_path / "stage")
    assert started == ["03_mixes"]                       # 04 never started
    row = json.loads((tmp_path / "results" / "quick" / "_status.json").read_text())["notebooks"][0]
    assert row["status"] == "interrupted" and row["computed"] == 1 and len(row["parts"]) == 1
