"""The book runner: execute the notebooks with papermill, then build the HTML with Jupyter Book.

``python -m cgan_lib book --profile ci``:

1. copies the book's sources (``_config.yml``, ``_toc.yml``, ``book/``) into a staging
   folder ``book/_build/stage`` that mirrors the repository's layout (so every Colab
   link points at a notebook that exists in the repository);
2. executes each ``notebooks/NN_*.ipynb`` in order with papermill, injecting ``profile``
   and ``data_root``, recording duration, device and status; stops at the first error
   and shows the failing cell; skips nothing silently;
3. fills the status page and the reproduction scoreboard from ``results/<profile>/*.json``;
4. builds the HTML with Jupyter Book (execution off: the notebooks are already executed)
   into ``book/_build/html``.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .artifacts import (DeadlineReached, atomic_write_text, load_results, pct, project_root,
                        read_run, results_dir)
from .probes import remeasured_table

STATUS_MARKER = "<!-- STATUS TABLE -->"
# Notebooks nbval executed in this test session (name -> "ok" or why not), filled by
# notebooks/conftest.py: the book test builds from those copies instead of executing again.
EXECUTED_THIS_SESSION: dict = {}
SCOREBOARD_MARKER = "<!-- SCOREBOARD TABLES -->"
CLAIMS_MARKER = "<!-- CLAIMS TABLE -->"
GOALS_MARKER = "<!-- GOALS TABLE -->"
STABILITY_MARKER = "<!-- STABILITY TABLE -->"
PROBE_MARKER = "<!-- PROBE TABLE -->"
GOAL_PREFIX = "goal."   # claims of the project (beyond the paper), not of the paper
FIGURE_MARKER = "<!-- SCOREBOARD FIGURE -->"
BENCHMARK_MARKER = "<!-- BENCHMARK TABLES -->"


def notebooks(root: Path | None = None, only=None) -> list[Path]:
    root = root or project_root()
    nbs = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if only:
        nbs = [n for n in nbs if any(n.name.startswith(o) or n.stem == o for o in only)]
        if not nbs:
            raise ValueError(f"No notebook matches {only}; available: "
                             f"{', '.join(n.stem for n in notebooks(root))}")
    return nbs


def _tag_for_book(path: Path):
    """Hide papermill's injected-parameters cell in the book (tag ``remove-cell``)."""
    nb = json.loads(path.read_text())
    for c in nb["cells"]:
        tags = c.setdefault("metadata", {}).setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    atomic_write_text(json.dumps(nb, indent=1), path)


class _PeakMemory:
    """Peak resident memory (MB) of this process's children (the notebook's kernel), polled
    in a thread every half second while a notebook runs."""

    def __init__(self):
        import threading
        self.peak, self._stop = 0.0, threading.Event()
        self._t = threading.Thread(target=self._poll, daemon=True)

    def _poll(self):
        try:
            import psutil
        except ImportError:
            return
        me = psutil.Process()
        while not self._stop.wait(0.5):
            total = 0
            for c in me.children(recursive=True):
                try:
                    total += c.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total / 2 ** 20)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()


def seed_jobs(seeds, jobs: int, threads: int) -> list[tuple[int, dict]]:
    """The per-seed runs of ``--jobs``: one ``(seed, environment)`` per seed, each process
    with ``threads // jobs`` torch threads (at least one). Empty where there is nothing to
    split (one job, or one seed)."""
    seeds = [int(s) for s in seeds]
    if jobs < 1:
        raise ValueError(f"--jobs {jobs}: give 1 or more")
    if jobs == 1 or len(seeds) < 2:
        return []
    per = str(max(1, threads // jobs))
    return [(s, {"CGAN_THREADS": per}) for s in seeds]


def _prefill(nb: Path, profile: str, seeds, jobs: int, data_root, timeout, work: Path):
    """Fill the artifact cache for ``nb`` with one process per seed, ``jobs`` at a time.

    On a 2-core Xeon with AMX, one ``quick`` victim epoch took 28.6 s with two threads, and
    two at once with one thread each 36.4 and 40.8 s (``benchmarks/seed_jobs.py`` measures
    it): small convolutions do not keep two threads busy. Each process executes the notebook with one
    seed into ``work`` (its results file and executed copy are thrown away); the normal run
    that follows finds every seed's artifacts in the cache and computes only what spans
    seeds. A seed's run that stops (a check that needs every seed, say) is not an error:
    what it finished is cached, and the full run that follows computes the rest and is the
    one that passes or fails. Returns ``{seed: the tail of its log}`` for runs that stopped."""
    import torch
    runs = seed_jobs(seeds, jobs, torch.get_num_threads())
    pending, active, stopped = list(runs), [], {}
    while pending or active:
        while pending and len(active) < jobs:
            s, env = pending.pop(0)
            d = work / f"seed{s}"
            d.mkdir(parents=True, exist_ok=True)
            cmd = [sys.executable, "-m", "papermill", str(nb), str(d / nb.name),
                   "-p", "profile", profile, "-y", f"seeds: [{s}]", "--no-progress-bar",
                   "--cwd", str(nb.parent)]
            if data_root:
                cmd += ["-p", "data_root", str(data_root)]
            if timeout:
                cmd += ["--execution-timeout", str(timeout)]
            log = open(d / "log.txt", "w")
            p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                 env={**os.environ, **env, "CGAN_RESULTS": str(d / "results")})
            active.append((s, p, log, d))
        time.sleep(1)
        for item in list(active):
            s, p, log, d = item
            if p.poll() is None:
                continue
            log.close()
            active.remove(item)
            if p.returncode:
                stopped[s] = (d / "log.txt").read_text()[-3000:]
                print(f"[book] {nb.name}: seed {s}'s own run stopped (exit {p.returncode}); the "
                      f"full run computes what it left", flush=True)
            else:
                print(f"[book] {nb.name}: seed {s} filled the cache", flush=True)
    return stopped


def fill_cache(nb: Path, profile: str, seeds, jobs: int, data_root=None, timeout=None) -> int:
    """``--jobs`` for one notebook: on a CPU with ``jobs`` > 1, :func:`_prefill` its seeds
    (``seeds``, else the profile's for the chapter) in a scratch folder. Returns the jobs
    used (1: nothing done). Shared by the runner and nbval's plugin."""
    if jobs < 1:
        raise ValueError(f"--jobs {jobs}: give 1 or more")
    from .device import get_device
    from .profiles import get_profile
    if jobs == 1 or get_device().type != "cpu":
        return 1
    import tempfile
    with tempfile.TemporaryDirectory(prefix="cgan-jobs-") as work:
        _prefill(nb, profile, seeds or get_profile(profile).seeds_for(nb.stem), jobs, data_root,
                 timeout, Path(work))
    return jobs


def execute_notebooks(profile: str, only=None, data_root=None, timeout=None,
                      out_dir: Path | None = None, seeds=None, jobs: int = 1) -> list[dict]:
    """Execute the notebooks in order; return one status row per notebook. ``seeds``
    (a list) replaces each chapter's seeds of the profile, and the status row says so.
    ``jobs`` > 1 (CPU only): first fill the cache with one process per seed, ``jobs`` at
    a time (:func:`_prefill`), then run the notebook as usual; the row's time covers both.

    Raises ``RuntimeError`` naming the notebook and cell at the first failure.
    """
    import papermill as pm

    if jobs < 1:   # before any notebook starts (fill_cache checks it for nbval's plugin)
        raise ValueError(f"--jobs {jobs}: give 1 or more")
    root = project_root()
    out_dir = out_dir or root / "book" / "_build" / "stage" / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TQDM_DISABLE", "1")   # no widget progress bars in stored outputs
    os.environ["CGAN_PROFILE"] = profile
    if data_root:
        os.environ["CGAN_DATA"] = str(data_root)
    rows = []
    from .device import cpu_label, device_name
    for nb in notebooks(root, only):
        out = out_dir / nb.name
        t0 = time.time()
        print(f"[book] executing {nb.name} (profile {profile}) ...", flush=True)
        row = {"notebook": nb.stem, "profile": profile, "device": device_name(),
               "cpu": cpu_label(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        params = {"profile": profile, "data_root": data_root}
        if seeds:
            params["seeds"] = row["seeds"] = [int(s) for s in seeds]
        mem = _PeakMemory()
        before = _n_artifacts()
        try:
            with mem:
                if fill_cache(nb, profile, seeds, jobs, data_root, timeout) > 1:
                    row["jobs"] = jobs
                pm.execute_notebook(str(nb), str(out), parameters=params,
                                    cwd=str(nb.parent), kernel_name="python3",
                                    execution_timeout=timeout, progress_bar=False,
                                    report_mode=False, log_output=False)
        except KeyboardInterrupt:   # Ctrl-C, or SIGTERM through run_book: record what was done
            row.update(status="interrupted", seconds=round(time.time() - t0, 1),
                       peak_rss_mb=round(mem.peak), computed=_n_artifacts() - before)
            rows.append(row)
            _write_status(profile, rows)
            print(f"[book] {nb.name}: interrupted after {row['seconds']:.0f} s; the "
                  f"{row['computed']} artifact(s) it computed are cached, and the next run "
                  f"resumes from them", flush=True)
            raise
        except Exception as e:  # papermill.PapermillExecutionError and friends
            # the stop time (--stop-at) reached inside the kernel: a stop, not a failure
            stopped = isinstance(e, DeadlineReached) or getattr(e, "ename", None) == "DeadlineReached"
            row.update(status="interrupted" if stopped else "failed",
                       seconds=round(time.time() - t0, 1),
                       peak_rss_mb=round(mem.peak), computed=_n_artifacts() - before)
            rows.append(row)
            _write_status(profile, rows)
            if stopped:
                print(f"[book] {nb.name}: stopped at the stop time after {row['seconds']:.0f} s; "
                      f"the {row['computed']} artifact(s) it computed are cached, and the next "
                      f"run resumes from them", flush=True)
                raise DeadlineReached(getattr(e, "evalue", None) or str(e)) from None
            detail = getattr(e, "evalue", None) or str(e)
            cell = getattr(e, "exec_count", None)
            raise RuntimeError(f"{nb.name} failed at cell {cell}: {getattr(e, 'ename', type(e).__name__)}: "
                               f"{detail}\nThe partly executed notebook is {out}.") from e
        _tag_for_book(out)
        row.update(status="ok", seconds=round(time.time() - t0, 1), peak_rss_mb=round(mem.peak),
                   computed=_n_artifacts() - before)
        rows.append(row)
        _write_status(profile, rows)
        print(f"[book] {nb.name}: ok in {row['seconds']:.0f} s", flush=True)
    return rows


def _n_artifacts() -> int:
    """Files in the artifact cache: how many a notebook computed (0: a warm re-run)."""
    from .artifacts import cache_dir
    return sum(1 for p in cache_dir().rglob("*") if p.suffix in (".pt", ".json"))


_PART_KEYS = ("seconds", "computed", "status", "device", "cpu", "started", "peak_rss_mb")


def _part(row: dict) -> dict:
    """What a stopped run's row keeps of it as one part of a chapter's cost."""
    return {k: row[k] for k in _PART_KEYS if k in row}


def _parts_so_far(prev: dict) -> list[dict]:
    """The runs that computed part of a chapter since its last whole run: the ``parts`` of
    a stopped row, or (a row written before parts were kept) the stopped row itself."""
    if prev.get("status") not in ("interrupted", "failed"):
        return []
    if "parts" in prev:
        return list(prev["parts"])
    return [_part(prev)] if prev.get("computed") else []


def _write_status(profile: str, rows: list[dict]):
    """Merge ``rows`` into ``results/<profile>/_status.json``. A warm re-run (nothing
    computed) keeps the duration and memory of the last run that computed something.

    A chapter may take several runs (a session ends, the cache keeps what was done): each
    stopped run is kept in the row's ``parts``, and the run that completes the chapter
    records them in its ``cold`` entry with ``total_seconds`` and ``total_computed``, the
    chapter's whole cost over all its runs."""
    path = results_dir() / profile / "_status.json"
    old = {}
    if path.is_file():
        old = {r["notebook"]: r for r in json.loads(path.read_text()).get("notebooks", [])}
    for r in rows:
        prev = old.get(r["notebook"], {})
        parts = _parts_so_far(prev)
        if parts and prev.get("note") and "note" not in r:   # what the earlier runs need said
            r["note"] = prev["note"]
        if r.get("status") in ("interrupted", "failed"):
            r["parts"] = parts + ([_part(r)] if r.get("computed") else [])
            if prev.get("cold"):
                r["cold"] = prev["cold"]
        elif r.get("status") == "ok" and (r.get("computed") or parts):   # a whole run, or the end of one
            r["cold"] = {k: r[k] for k in ("seconds", "peak_rss_mb", "computed", "device", "cpu",
                                           "started", "seeds", "jobs") if k in r}
            if parts:
                r["cold"].update(
                    parts=parts,
                    total_seconds=round(r["seconds"] + sum(p.get("seconds", 0) for p in parts), 1),
                    total_computed=r.get("computed", 0) + sum(p.get("computed", 0) for p in parts),
                    peak_rss_mb=max([r.get("peak_rss_mb") or 0]
                                    + [p.get("peak_rss_mb") or 0 for p in parts]))
                if r.get("note"):
                    r["cold"]["note"] = r["note"]
        elif prev.get("cold"):
            r["cold"] = prev["cold"]
        old[r["notebook"]] = r
    atomic_write_text(json.dumps({"notebooks": sorted(old.values(), key=lambda r: r["notebook"])},
                                 indent=1), path)


def cold_cost(c: dict) -> tuple[float, int, int]:
    """A ``cold`` entry's whole cost: (seconds, artifacts computed, runs), over every run
    the chapter took."""
    return (c.get("total_seconds", c["seconds"]), c.get("total_computed", c.get("computed", 0)),
            1 + len(c.get("parts", [])))


def stopped_cost(r: dict) -> tuple[float, int]:
    """A stopped (interrupted or failed) row's cost so far: (seconds, runs), over its parts
    (a row written before parts were kept is its own one part)."""
    parts = r.get("parts") or [_part(r)]
    return sum(p.get("seconds", 0) for p in parts), len(parts)


# ----------------------------------------------------------------------------- pages

PROFILE_ORDER = ["ci", "quick", "paper"]


def status_table(root: Path | None = None) -> str:
    """One table per profile: each notebook's last run, and the last run that computed
    something (its duration, artifacts computed and peak memory)."""
    out = []
    for f in sorted(Path(root or results_dir()).glob("*/_status.json")):
        rows = json.loads(f.read_text()).get("notebooks", [])
        if not rows:
            continue
        runs = rows + [r["cold"] for r in rows if r.get("cold")]
        devices = sorted({r["device"] for r in runs})
        cpus = sorted({r.get("cpu") or "not recorded (older runs)" for r in runs})
        where = f"Device: {'; '.join(devices)}. CPU: {'; '.join(cpus)}."
        out += [f"### Profile `{f.parent.name}`", "", where, "",
                "| notebook | status | last run | last run that computed | peak memory | executed |",
                "|---|---|---|---|---|---|"]
        for r in rows:
            c = r.get("cold") or {}
            cold = ""
            if c:
                secs, made, runs = cold_cost(c)
                cold = (f"{secs:.0f} s, {made} artifacts"
                        + (f" over {runs} runs (resumed from the cache)" if runs > 1 else ""))
                other = sorted({p.get("cpu") or "a CPU not recorded" for p in c.get("parts", [])}
                               - {c.get("cpu") or "a CPU not recorded"})
                if other:   # a sum over machines is not one machine's cost
                    cold += f" (earlier runs on {'; '.join(other)})"
            if c.get("seeds"):   # a run given --seeds, not the profile's seeds of the chapter
                cold += f" (seeds {', '.join(map(str, c['seeds']))} by `--seeds`)"
            if c.get("jobs"):    # seeds trained in parallel processes first (--jobs)
                cold += f" (`--jobs {c['jobs']}`: seeds in parallel)"
            mem = c.get("peak_rss_mb") or r.get("peak_rss_mb")
            state = r["status"] + (f" ({r.get('computed', 0)} artifacts cached: the next run "
                                   f"resumes from them)" if r["status"] == "interrupted" else "")
            if r["status"] in ("interrupted", "failed") and len(r.get("parts", [])) > 1:
                secs, runs = stopped_cost(r)
                state += f"; so far {secs:.0f} s over {runs} runs"
            out.append(f"| {r['notebook']} | {state} | {r.get('seconds', 0):.0f} s | {cold} | "
                       f"{f'{mem:,.0f} MB' if mem else ''} | {c.get('started') or r.get('started', '')} |")
        out.append("")
        # what a time cannot say by itself (a run paused, or sharing the machine)
        note = lambda r: r.get("note") or (r.get("cold") or {}).get("note")
        out += [f"* {r['notebook']}: {note(r)}" for r in rows if note(r)]
        if any(note(r) for r in rows):
            out.append("")
    if not out:
        return "No notebook has been executed yet: run `python -m cgan_lib book`."
    return "\n".join(out)


def _short_cpu(label: str | None) -> str:
    """``Intel(R) Xeon(R) Processor (avx2, avx512f, amx_bf16)`` -> ``Intel Xeon, amx_bf16``:
    the model and its best instruction set, for a table cell."""
    if not label:
        return "CPU not recorded"
    model, _, isa = label.partition(" (")
    words = [w for w in model.replace("(R)", "").replace("(TM)", "").split()
             if w.lower() not in ("processor", "cpu")]
    best = [i.strip() for i in isa.rstrip(")").split(",") if i.strip()]
    return " ".join(words) + (f", {best[-1]}" if best else "")


def _cost_cell(r: dict | None, seeds=()) -> tuple[str, bool]:
    """One chapter's cost for :func:`costs_table` (``seeds``: the profile's for the chapter),
    and whether the status page has a note on what the time includes."""
    if r is None:
        return "not yet run", False
    note = bool(r.get("note") or (r.get("cold") or {}).get("note"))
    c = r.get("cold")
    if r["status"] in ("interrupted", "failed"):
        secs, runs = stopped_cost(r)
        cpus = sorted({_short_cpu(p.get("cpu")) for p in r.get("parts") or [r]})
        return (f"under way: {secs:,.0f} s so far over {runs} run{'s' * (runs > 1)} "
                f"({'; '.join(cpus)})", note)
    if not c:
        return f"{r.get('seconds', 0):,.0f} s, trains nothing", note
    secs, _, runs = cold_cost(c)
    prec = "bf16" if "bf16" in (c.get("device") or "") else "fp32"
    where = c.get("device") if not (c.get("device") or "CPU").startswith("CPU") else \
        f"{_short_cpu(c.get('cpu'))}, {prec}"
    runs_txt = f" over {runs} runs" if runs > 1 else ""
    seeds = c.get("seeds") or seeds
    seeds_txt = f", seed{'s' * (len(seeds) > 1)} {', '.join(map(str, seeds))}" if seeds else ""
    jobs_txt = f", `--jobs {c['jobs']}`" if c.get("jobs") else ""
    return f"{secs:,.0f} s{runs_txt}{seeds_txt} ({where}{jobs_txt})", note


def _chapter_seeds(profile: str, notebook: str) -> tuple:
    from .profiles import PROFILES
    prof = PROFILES.get(profile)
    return tuple(prof.seeds_for(notebook)) if prof else ()


def costs_table(root: Path | None = None, profiles=("ci", "quick")) -> str:
    """The README's table: what each chapter cost from a cold cache, per profile, with the
    machine and precision of the run (from ``results/<profile>/_status.json``; the status
    page has the detail). ``python -m cgan_lib costs --readme`` writes it into README.md."""
    root = Path(root or results_dir())
    rows = {}
    for p in profiles:
        f = root / p / "_status.json"
        rows[p] = ({r["notebook"]: r for r in json.loads(f.read_text()).get("notebooks", [])}
                   if f.is_file() else {})
    names = [nb.stem for nb in notebooks()] or sorted({n for v in rows.values() for n in v})
    out = ["| chapter | " + " | ".join(f"`{p}`" for p in profiles) + " |",
           "|---|" + "---|" * len(profiles)]
    any_note = False
    for n in names:
        cells = []
        for p in profiles:
            text, note = _cost_cell(rows[p].get(n), _chapter_seeds(p, n))
            any_note |= note
            cells.append(text + (" *" if note else ""))
        out.append(f"| {n} | " + " | ".join(cells) + " |")
    totals = []   # a column's sum, where every chapter ran whole on one CPU
    for p in profiles:
        cs = [rows[p].get(n, {}).get("cold") for n in names]
        cpus = {(c or {}).get("cpu") for c in cs if c}
        whole = all(rows[p].get(n, {}).get("status") == "ok" for n in names)
        secs = sum(cold_cost(c)[0] if c else rows[p].get(n, {}).get("seconds", 0)
                   for n, c in zip(names, cs))   # a chapter that trains nothing: its own time
        totals.append(f"**{secs:,.0f} s** ({_short_cpu(cpus.pop())})" if whole and len(cpus) == 1
                      else "no total: chapters missing or run on different CPUs")
    out.append("| **all chapters** | " + " | ".join(totals) + " |")
    if any_note:
        out += ["", "\\* the status page carries a note on what this time includes (a paused "
                "run, a shared machine)."]
    return "\n".join(out)


README_COSTS = ("<!-- COSTS: written by `python -m cgan_lib costs --readme` -->", "<!-- /COSTS -->")


def write_readme_costs(readme: Path | None = None) -> Path:
    """Replace the block between :data:`README_COSTS`'s markers in README.md with
    :func:`costs_table` (atomically)."""
    readme = Path(readme or project_root() / "README.md")
    text = readme.read_text()
    start, end = README_COSTS
    if start not in text or end not in text:
        raise ValueError(f"{readme} has no cost block: put the lines {start!r} and {end!r} "
                         f"where the table should go")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    atomic_write_text(f"{head}{start}\n{costs_table()}\n{end}{tail}", readme)
    return readme


def _at_least(value: float, goal: float) -> str:
    """``: **met**`` or ``: **missed**``, for a ratio whose goal is a lower bound."""
    return ": **met**" if value >= goal else ": **missed**"


def benchmarks_table(root: Path | None = None) -> str:
    """What ``benchmarks/`` measured, from ``benchmarks/results/*.json``, with the machine
    and date of each measurement."""
    from .device import isa_text
    folder = Path(root or project_root() / "benchmarks" / "results")
    out = []
    for f in sorted(folder.glob("*.json")):
        b = json.loads(f.read_text())
        cpu = f" on {b['cpu']} ({isa_text(b.get('cpu_isa'))})" if b.get("cpu") else ""
        where = f"{b.get('machine', '?')}{cpu}, {b.get('written', '?')}"
        if b.get("provenance"):   # e.g. measured with an earlier version of a profile
            where += f"; {b['provenance']}"
        if "protect_vs_emn_ratio" in b:
            out += [f"**Speed ratios** (`{f.name}`; {where})", "",
                    "| measure | value |", "|---|---|",
                    f"| `protect` (one forward pass of G) | {b['protect_images_per_s']:,.0f} images/s |",
                    f"| EMN, per image and round | {b['emn_seconds_per_image_per_round']:.3f} s |",
                    f"| `protect_vs_emn_ratio` (goal: at least 1,000) | {b['protect_vs_emn_ratio']:,.0f}"
                    f"{_at_least(b['protect_vs_emn_ratio'], 1000)} |",
                    f"| `victim_speed_ratio`, our engine vs a DataLoader loop (goal: at least 1 on a CPU) | "
                    f"{b['victim_speed_ratio']:.2f}{_at_least(b['victim_speed_ratio'], 1)} |", ""]
            if b.get("note"):
                out += [b["note"], ""]
        elif "rows" in b and b["rows"] and "n_train" in b["rows"][0]:
            out += [f"**Sizing the `quick` profile**: a natural CIFAR-10 victim (ResNet18, no "
                    f"augmentation, 10% of the training images held out for validation, "
                    f"{b.get('n_test', '?'):,} test images; `{f.name}`; {where})", "",
                    "| training images | width | stem stride | epochs | seed | last epoch | early stop | time |",
                    "|---|---|---|---|---|---|---|---|"]
            out += [f"| {r['n_train']:,} | {r['width']:g} | {r.get('stem_stride', 1)} | {r['epochs']} | {r['seed']} | "
                    f"{pct(r['final_test_acc'])}% | {pct(r['early_stop_test_acc'])}% | "
                    f"{r['train_seconds']:.0f} s |" for r in b["rows"]]
            out.append("")
        elif "augment_rows" in b:
            out += [f"**Batch augmentation, ours against kornia** (batch of {b['batch']} images "
                    f"of {b['image'][1]}x{b['image'][2]}; `{f.name}`; {where})", "",
                    "| transform | ours (ms per batch) | kornia (ms per batch) | kornia / ours |",
                    "|---|---|---|---|"]
            out += [f"| {r['transform']} | {r['ours_ms']:.2f} | {r['kornia_ms']:.2f} | "
                    f"{r['kornia_over_ours']:.2f} |" for r in b["augment_rows"]]
            out += ["", b.get("note", ""), ""]
        elif "stem_stride_speedup" in b:
            ms = b["stem_stride_ms"]
            out += [f"**The classifier's stem**: one training step of profile `{b['profile']}`'s "
                    f"classifier ({b['arch']}, width {b['width']:g}, batch {b['batch']} of "
                    f"{b['image'][1]}x{b['image'][2]} images; `{f.name}`; {where})", "",
                    "| first convolution | ms a step |", "|---|---|",
                    f"| stride 1 (the CIFAR stem) | {ms['1']:.0f} |",
                    f"| stride 2 | {ms['2']:.0f} |",
                    f"| stride 2 over stride 1 | {b['stem_stride_speedup']:.2f}x faster |", ""]
        elif "seed_jobs_speedup" in b:
            out += [f"**Seeds in parallel processes** (`--jobs {b['jobs']}`): {b['jobs']} victims of "
                    f"profile `{b['profile']}` ({b['epochs']} epoch(s) each; `{f.name}`; {where})", "",
                    "| how | training seconds |", "|---|---|",
                    f"| one after another, {b['threads']} threads | "
                    f"{' + '.join(f'{v:.0f}' for v in b['serial_train_seconds'])} |",
                    f"| at once, {max(1, b['threads'] // b['jobs'])} thread(s) each | "
                    f"{' and '.join(f'{v:.0f}' for v in b['parallel_train_seconds'])} |",
                    f"| victims per hour, `--jobs {b['jobs']}` over one process | "
                    f"{b['seed_jobs_speedup']:.2f}x |", ""]
        elif "profiles" in b and any("eager" in r for r in b["profiles"].values()):
            out += [f"**`torch.compile` for victim training** (`CGAN_COMPILE=1`; victims one after "
                    f"another in one process, so the first pays the compile time; "
                    f"`{f.name}`; {where})", "",
                    "| profile | eager: seconds a victim | compiled: seconds a victim | "
                    "eager / compiled, all victims | after the first |", "|---|---|---|---|---|"]
            for prof, r in b["profiles"].items():
                def secs(rows):
                    return ("failed: " + rows["error"] if isinstance(rows, dict) else
                            " + ".join(f"{v['seconds']:.0f}" for v in rows)
                            + f" ({rows[0]['epochs']} epoch{'s' if rows[0]['epochs'] != 1 else ''})")
                ratio = lambda k: "" if r.get(k) is None else f"{r[k]:.2f}x"
                when = f" ({r['written'][:10]})" if r.get("written") else ""
                out.append(f"| `{prof}`{when} | {secs(r['eager'])} | {secs(r['compile'])} | "
                           f"{ratio('compile_speedup')} | {ratio('compile_speedup_after_first')} |")
            out.append("")
            for prof, r in b["profiles"].items():   # a paragraph each
                if r.get("provenance"):
                    out += [f"`{prof}`'s row: {r['provenance']}.", ""]
        elif "notebook_rows" in b:
            goal = b.get("goal_seconds")
            goal_txt = (f" (goal for {b.get('goal_reads', 'the notebooks')}: at most "
                        f"{goal / 60:,.0f} minutes)" if goal else "")
            out += [f"**What each notebook of profile `{b['profile']}` cost**, cold cache "
                    f"(`{f.name}`; {where})", "",
                    "| notebook | wall time | peak memory | artifacts computed |", "|---|---|---|---|"]
            per_notebook = "each notebook" in str(b.get("goal_reads", ""))
            for r in b["notebook_rows"]:
                mem = f"{r['peak_rss_mb']:,.0f} MB" if r.get("peak_rss_mb") else ""
                made = "" if r.get("artifacts") is None else r["artifacts"]
                run = (f" (seeds {', '.join(map(str, r['seeds']))} only, by `--seeds`)"
                       if r.get("seeds") else "")
                if r.get("runs"):   # resumed from the cache over several runs: their sum
                    run += f" ({r['runs']} runs)"
                over = (f" (over the goal by {100 * (r['seconds'] / goal - 1):.0f}%)"
                        if per_notebook and goal and r["seconds"] > goal else "")
                out.append(f"| {r['notebook']}{run} | {r['seconds']:,.0f} s{over} | {mem} | {made} |")
            for r in b.get("not_cold", []):
                out.append(f"| {r['notebook']} | {r.get('seconds') or 0:,.0f} s | | 0 (reads "
                           f"artifacts of earlier chapters; not counted) |")
            met = lambda secs, limit: ("" if not limit else
                                       ": **met**" if secs <= limit else
                                       f": **missed** by {100 * (secs / limit - 1):.0f}%")
            if b.get("paper_chapters_seconds") is not None and b["profile"] == "ci":
                # the ci goal counts the paper's seven chapters
                out.append(f"| **chapters 01-07** | **{b['paper_chapters_seconds']:,.0f} s**"
                           f"{goal_txt}{met(b['paper_chapters_seconds'], goal)} | | |")
                out.append(f"| **the {len(b['notebook_rows'])} notebooks that trained** | "
                           f"**{b['notebooks_seconds']:,.0f} s** | {b['peak_rss_mb']:,.0f} MB | |")
            else:
                verdict = ("" if not goal else
                           (": **met** by every notebook" if all(r["seconds"] <= goal for r in b["notebook_rows"])
                            else ": **missed** by the notebooks marked")
                           if per_notebook else met(b["notebooks_seconds"], goal))
                out.append(f"| **the {len(b['notebook_rows'])} notebooks that trained** | "
                           f"**{b['notebooks_seconds']:,.0f} s**{goal_txt}{verdict} | "
                           f"{b['peak_rss_mb']:,.0f} MB | |")
            if b.get("ci_seconds"):
                out += ["", f"The whole clean-clone `.ci/run` (set-up, notebooks under nbval, "
                            f"{b.get('ci_tests_passed') or '?'} tests, book build): "
                            f"{b['ci_seconds']:,} s (goal: at most 1,800 s){met(b['ci_seconds'], 1800)}."]
            out.append("")
    return "\n".join(out) if out else "No benchmark has been run yet (`benchmarks/`)."


def _pct(v):
    return "" if v is None else pct(v)


def _cell(r) -> str:
    """``mean ± std (n seeds)`` of a record, in %."""
    if r.get("n_seeds"):
        return f"{pct(r['value'])} ± {pct(r['std'])} ({r['n_seeds']})"
    return _pct(r["value"])


def _profiles(recs) -> list:
    return sorted({r["profile"] for r in recs},
                  key=lambda p: PROFILE_ORDER.index(p) if p in PROFILE_ORDER else 9)


def comparable(r: dict) -> bool:
    """Whether our number may be set against the paper's as 'ours - paper': the paper's
    dataset, architecture and scale (the paper profile)."""
    return (r.get("paper_value") is not None and r["profile"] == "paper"
            and r["dataset"] == r.get("paper_dataset", r["dataset"])
            and r["arch"] == r.get("paper_arch", r["arch"]))


EXPERIMENT_TITLES = {
    "fig2": "Figure 2(d): class-wise patches (paper: ImageNet25, ResNet18)",
    "sec4.2-cwn": "Section 4.2: class-wise noise and early stopping (no paper values)",
    "confounder-property": "The confounder property: f's accuracy on the noise alone (no paper values)",
    "table2": "Table 2 and Figure 4(a, b): victims on 100% protected data (paper: CIFAR-10, ResNet18)",
    "fig5": "Figure 5 and Table 4: mixes of protected and natural data (paper: CIFAR-10, polyline 5 only)",
    "fig4cd": "Figure 4(c, d): the curves at p = 90% (paper values only in the figure)",
    "table1": "Table 1: transferability, noise made with ResNet18, victims of other architectures (paper: SVHN, CIFAR-10, ImageNet25)",
    "table3": "Table 3 (Appendix D): the denoiser attack (paper: CIFAR-10, ResNet18)",
    "countermeasures": "Beyond the paper: countermeasures of the trainer, each with crop + flip (no paper values)",
    "hardened": "Beyond the paper: hardened generators (chapter 9), without and with crop + flip (no paper values)",
    "fig7": "Figure 7 (Appendix A): CAR and GCR at random checkpoints (paper: CAR > 90%, GCR < 2%)",
}
METRIC_LABELS = {"test_acc": "last epoch", "early_stop_test_acc": "early stop (validation)",
                 "noise_acc": "f on noise", "car": "CAR", "gcr": "GCR", "gcr_median": "GCR (median)"}


def base_arch(arch: str) -> str:
    """``resnet18x0.25`` or ``resnet18x0.25-s2`` -> ``resnet18``: the architecture without
    the width multiplier and the stem's stride."""
    import re
    return re.sub(r"(x[0-9.]+)?(-s[0-9]+)?$", "", arch or "")


def row_setting(r: dict, multi_dataset: bool = False) -> str:
    """The setting a scoreboard row shows: with the victim's architecture where it is not
    the paper's default ResNet18 (Table 1), and the dataset where one profile ran several."""
    s = r["setting"]
    if base_arch(r.get("arch")) not in ("resnet18", ""):
        s += f", {base_arch(r['arch'])}"
    if multi_dataset:
        s += f", {r['dataset']}"
    return s


def _multi_dataset(recs) -> set:
    """Experiments in which one profile ran several datasets."""
    seen: dict = {}
    for r in recs:
        seen.setdefault((r["experiment"], r["profile"]), set()).add(r["dataset"])
    return {e for (e, _), ds in seen.items() if len(ds) > 1}


def claims_table(root: Path | None = None, goals: bool = False) -> str:
    """Every claim of the paper the book tests, with its status per profile; with
    ``goals``, the project's own goals beyond the paper instead (names ``goal.*``)."""
    from .paper import CLAIMS, NOT_MEASURED
    recs = [r for r in load_results(root) if r["experiment"] == "claims"]
    profiles = PROFILE_ORDER + sorted({r["profile"] for r in recs} - set(PROFILE_ORDER))
    head = "the project's goal" if goals else "the paper's claim"
    lines = [f"| {head} | where | " + " | ".join(f"`{p}`" for p in profiles) + " |",
             "|---|---|" + "---|" * len(profiles)]
    for name, c in CLAIMS.items():
        if name.startswith(GOAL_PREFIX) != goals:
            continue
        cells = []
        for p in profiles:
            mine = [r for r in recs if r["method"] == name and r["profile"] == p]
            if not mine:
                cells.append(NOT_MEASURED)
                continue
            cells.append("; ".join(
                (f"{r['setting']}: " if r["setting"] else "") + f"**{r['status']}** "
                f"({pct(r['value'], sign=True)} ± {pct(r['std'])} pts, {r['n_seeds']} seeds)"
                for r in sorted(mine, key=lambda r: r["setting"])))
        lines.append(f"| {c.statement} *(needs {c.a} {c.need} {c.b}; b − a: {c.b} minus "
                     f"{c.a})* | {c.ref} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


RERUNS_DIR = "reruns"


def _run_label(recs: list, status: Path) -> str:
    """``CPU (2 threads, x86_64, bf16) on Intel(R) Xeon(R) Processor (..., amx_bf16)``: the
    device the records name, and the CPU the runner's status file recorded."""
    devs = sorted({r.get("device") for r in recs} - {None})
    cpus: set = set()
    if status.is_file():
        for row in json.loads(status.read_text()).get("notebooks", []):
            cpus.add((row.get("cold") or row).get("cpu"))
    cpus -= {None}
    return "; ".join(devs) + (f" on {', '.join(sorted(cpus))}" if cpus else "")


def claim_runs(profile: str = "ci", root: Path | None = None) -> list[tuple[str, dict]]:
    """The claim records of every committed run of ``profile``, as ``(label, {(claim,
    setting): record})``: ``results/<profile>/`` first, then each
    ``results/reruns/<profile>-<machine>/``, the same code run again on another machine
    (kept apart: :func:`load_results` does not read it)."""
    root = Path(root or results_dir())
    runs = []
    for d in [root / profile] + sorted((root / RERUNS_DIR).glob(f"{profile}-*")):
        recs = [r for doc in read_run(d) for r in doc["records"] if r.get("experiment") == "claims"]
        if recs:
            runs.append((_run_label(recs, d / "_status.json"),
                         {(r["method"], r.get("setting") or ""): r for r in recs}))
    return runs


def verdict_change(a: str, b: str) -> str:
    """``same``; ``reversed`` (holds against does not hold); else ``to or from undecided``."""
    from .paper import FAILS, HOLDS
    if a == b:
        return "same"
    return "reversed" if {a, b} == {HOLDS, FAILS} else "to or from undecided"


def stability_table(profile: str = "ci", root: Path | None = None) -> str:
    """Every claim and goal whose verdict differs between committed runs of ``profile``
    (the same code on different machines), after a count of what changed."""
    from .paper import CLAIMS
    runs = claim_runs(profile, root)
    if len(runs) < 2:
        return f"One `{profile}` run is committed so far: nothing to compare yet."
    (label0, base), others = runs[0], runs[1:]
    out = [f"Run A, the committed `results/{profile}/`: {label0}."]
    archs = lambda recs: sorted({r.get("arch", "") for r in recs.values()})
    differ = [(label, recs) for label, recs in others if archs(recs) != archs(base)]
    for label, recs in differ:   # another model (e.g. an older stem): not the same code
        out.append(f"Not compared: {label}, whose models differ ({', '.join(archs(recs))} "
                   f"against run A's {', '.join(archs(base))}).")
    others = [o for o in others if o not in differ]
    runs = [runs[0]] + others
    if not others:
        return "\n\n".join(out)
    for i, (label, recs) in enumerate(others):
        keys = sorted(set(base) & set(recs))
        kinds = [verdict_change(base[k]["status"], recs[k]["status"]) for k in keys]
        out.append(f"Run {chr(66 + i)}: {label}. Against run A, of {len(keys)} verdicts "
                   f"{kinds.count('same')} are the same, {kinds.count('to or from undecided')} "
                   f"move between a verdict and *undecided*, and {kinds.count('reversed')} "
                   f"are reversed (holds against does not hold).")
    changed = sorted({k for _, recs in others for k in recs
                      if k in base and recs[k]["status"] != base[k]["status"]})
    if not changed:
        return "\n\n".join(out)
    head = "| claim or goal | where | " + " | ".join(
        f"run {chr(65 + i)}" for i in range(len(runs))) + " |"
    lines = [head, "|---|---|" + "---|" * len(runs)]
    for k in changed:
        c = CLAIMS.get(k[0])
        cells = []
        for _, recs in runs:
            r = recs.get(k)
            cells.append("-" if r is None else
                         f"**{r['status']}** ({pct(r['value'], sign=True)} ± {pct(r['std'])} pts)")
        where = ", ".join(w for w in (c.ref if c else "", k[1]) if w) or "-"
        lines.append(f"| {c.statement if c else k[0]} | {where} | " + " | ".join(cells) + " |")
    return "\n\n".join(out) + "\n\n" + "\n".join(lines)


def scoreboard_tables(root: Path | None = None) -> str:
    """Per table/figure: the paper's number, ours per profile (mean ± std over seeds), the
    gap to natural training where both exist, and 'ours - paper' only where comparable."""
    recs = [r for r in load_results(root)
            if r["experiment"] != "claims" and r.get("metric") in METRIC_LABELS]
    if not recs:
        return "No results yet: run `python -m cgan_lib book`."
    profiles = _profiles(recs)
    groups: dict = {}
    for r in recs:
        groups.setdefault(r["experiment"], []).append(r)
    order = list(EXPERIMENT_TITLES)
    multi = _multi_dataset(recs)
    out = []
    for exp in sorted(groups, key=lambda e: (order.index(e) if e in order else 99, e)):
        rows: dict = {}
        for r in groups[exp]:
            rows.setdefault((r["method"], row_setting(r, exp in multi), r["metric"]), {})[r["profile"]] = r
        out.append(f"### {EXPERIMENT_TITLES.get(exp, exp)}\n")
        for p in profiles:
            where = sorted({f"{r['dataset']}, {r['arch']}, {r['epochs'] or '?'} epochs, {r['device']}"
                            if r.get("epochs") else f"{r['dataset']}, {r['arch']}, {r['device']}"
                            for r in groups[exp] if r["profile"] == p})
            if where:
                out.append(f"* ours, `{p}`: " + "; ".join(where))
        out.append("")
        out.append("| method | setting | paper (%) | " + " | ".join(f"ours, `{p}` (%)" for p in profiles) + " |")
        out.append("|---|---|---|" + "---|" * len(profiles))
        for (m, setting, metric), by in sorted(rows.items()):
            any_r = next(iter(by.values()))
            pv = any_r.get("paper_value")
            nat_p = next((x.get("paper_value") for x in groups[exp] if x["method"] == "natural"
                          and row_setting(x, exp in multi) == setting
                          and x.get("paper_value") is not None), None)
            paper_cell = "n/a" if pv is None else _pct(pv) + (
                f" ({any_r['paper_dataset']})" if any_r.get("paper_dataset") else "")
            if pv is not None and nat_p is not None and m != "natural":
                paper_cell += f"; gap {pct(nat_p - pv)}"
            cells = []
            for p in profiles:
                r = by.get(p)
                if r is None:
                    cells.append("")
                    continue
                c = _cell(r)
                nat = rows.get(("natural", setting, metric), {}).get(p)
                if nat is not None and m != "natural" and metric.endswith("acc"):
                    c += f"; gap {pct(nat['value'] - r['value'])}"
                if comparable(r):
                    c += f"; ours - paper {pct(r['value'] - pv, sign=True)}"
                cells.append(c)
            label = setting if metric == "test_acc" else f"{setting}, {METRIC_LABELS[metric]}"
            out.append(f"| {m} | {label} | {paper_cell} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def scoreboard_figure(path: Path, root: Path | None = None) -> Path | None:
    """A dot plot: for every number the paper gives, the paper's value and ours per
    profile (mean, with +-1 std over seeds)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    recs = [r for r in load_results(root) if r.get("paper_value") is not None
            and r.get("metric") in ("test_acc",) and r["experiment"] != "claims"]
    if not recs:
        return None
    multi = _multi_dataset(recs)
    for r in recs:
        r["setting"] = row_setting(r, r["experiment"] in multi)
    keys = sorted({(r["experiment"], r["method"], r["setting"]) for r in recs})
    profiles = _profiles(recs)
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(keys) + 1.2))
    colours = dict(zip(PROFILE_ORDER, ("tab:blue", "tab:orange", "tab:green")))
    markers = {"resnet18": "o", "vgg11": "s", "resnet50": "^", "densenet121": "D"}
    used = set()
    for i, k in enumerate(keys):
        mine = [r for r in recs if (r["experiment"], r["method"], r["setting"]) == k]
        ax.plot(100 * mine[0]["paper_value"], i, "kx", ms=8, label="paper" if i == 0 else None)
        for j, p in enumerate(profiles):
            for r in (r for r in mine if r["profile"] == p):
                label = f"ours, {p} ({r['dataset']}, {r['arch']})"
                ax.errorbar(100 * r["value"], i + 0.15 * (j + 1), xerr=100 * r.get("std", 0) or None,
                            fmt=markers.get(base_arch(r["arch"]), "o"), color=colours.get(p, "gray"),
                            ms=5, capsize=2, label=None if label in used else label)
                used.add(label)
    # what produced the dots: each profile's devices and seeds
    def seeds_of(p):   # the union, and how many a row has where rows differ
        mine = [r for r in recs if r["profile"] == p]
        union = sorted({int(x) for r in mine for x in (r.get("seeds") or [])})
        per = sorted({len(r.get("seeds") or []) for r in mine})
        return (f"seeds {', '.join(map(str, union))}"
                + (f" ({per[0]}-{per[-1]} a row)" if len(per) > 1 else ""))
    made = "; ".join(
        f"{p}: {', '.join(sorted({r.get('device') or '?' for r in recs if r['profile'] == p}))}, "
        f"{seeds_of(p)}" for p in profiles)
    paper_ds = {k: next(r.get("paper_dataset") or r["dataset"] for r in recs
                        if (r["experiment"], r["method"], r["setting"]) == k) for k in keys}
    ax.set_yticks(range(len(keys)), [f"{e}: {m}, {s} (paper: {paper_ds[(e, m, s)]})"
                                     for e, m, s in keys], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("clean test accuracy (%)")
    import textwrap
    ax.set_title("The paper's numbers (x) and ours per profile (mean ± std over seeds)\n"
                 + "\n".join(textwrap.wrap(made, 120)), fontsize=7)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.6 / (0.32 * len(keys) + 1.2) - 0.05),
              ncol=2, frameon=False)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _fill(page: Path, marker: str, body: str):
    text = page.read_text()
    if marker not in text:
        raise RuntimeError(f"{page} lacks the marker {marker}")
    page.write_text(text.replace(marker, body))


def stage_sources(root: Path, stage: Path):
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / name, stage / name)
    if (stage / "book").exists():
        shutil.rmtree(stage / "book")
    shutil.copytree(root / "book", stage / "book", ignore=shutil.ignore_patterns("_build"))


def build_html(root: Path, stage: Path) -> Path:
    """Fill the generated pages and run ``jupyter-book build`` on the staging folder."""
    stage_sources(root, stage)
    _fill(stage / "book" / "status.md", STATUS_MARKER, status_table())
    _fill(stage / "book" / "status.md", BENCHMARK_MARKER, benchmarks_table(root / "benchmarks" / "results"))
    _fill(stage / "book" / "scoreboard.md", CLAIMS_MARKER, claims_table())
    _fill(stage / "book" / "scoreboard.md", GOALS_MARKER, claims_table(goals=True))
    _fill(stage / "book" / "scoreboard.md", STABILITY_MARKER, stability_table("ci"))
    _fill(stage / "book" / "scoreboard.md", PROBE_MARKER, remeasured_table("quick"))
    fig = scoreboard_figure(stage / "book" / "scoreboard_dots.png")
    _fill(stage / "book" / "scoreboard.md", FIGURE_MARKER,
          "```{figure} scoreboard_dots.png\n:width: 100%\n\nThe paper's numbers beside ours. "
          "Only the `paper` profile matches the paper's dataset and scale; the others show the "
          "direction of an effect, not its size.\n```" if fig else "")
    _fill(stage / "book" / "scoreboard.md", SCOREBOARD_MARKER, scoreboard_tables())
    missing = [n.name for n in notebooks(root) if not (stage / "notebooks" / n.name).is_file()]
    if missing:
        raise RuntimeError(f"Not executed yet: {', '.join(missing)}. Run the book command "
                           f"without --only once.")
    jb = shutil.which("jupyter-book") or str(Path(sys.executable).parent / "jupyter-book")
    cmd = [jb, "build", str(stage), "--builder", "html", "--keep-going"]
    print("[book]", " ".join(cmd), flush=True)
    res = subprocess.run(cmd, capture_output=True, text=True)
    sys.stdout.write(res.stdout[-4000:])
    if res.returncode != 0:
        sys.stderr.write(res.stderr[-4000:])
        raise RuntimeError("jupyter-book build failed (see above).")
    html = root / "book" / "_build" / "html"
    if html.exists():
        shutil.rmtree(html)
    shutil.copytree(stage / "_build" / "html", html)
    return html / "index.html"


def run_book(profile=None, only=None, data_root=None, build=True, timeout=None,
             seeds=None, jobs: int = 1) -> int:
    from .profiles import get_profile
    prof = get_profile(profile).name
    root = project_root()
    stage = root / "book" / "_build" / "stage"
    import signal
    import threading
    if threading.current_thread() is threading.main_thread():
        def _stop(signum, frame):   # a stopped session or `kill`: handled as Ctrl-C is
            raise KeyboardInterrupt(f"signal {signum}")
        signal.signal(signal.SIGTERM, _stop)
    rows = execute_notebooks(prof, only, data_root, timeout, stage / "notebooks", seeds, jobs)
    total = sum(r["seconds"] for r in rows)
    print(f"[book] executed {len(rows)} notebook(s) in {total:.0f} s")
    if build:
        index = build_html(root, stage)
        print(f"[book] built {index}")
    return 0


def repository_url(root: Path | None = None) -> str:
    """The one repository URL, from ``_config.yml``."""
    import yaml
    cfg = yaml.safe_load(((root or project_root()) / "_config.yml").read_text())
    return cfg["repository"]["url"].rstrip("/")


def colab_url(notebook: Path, root: Path | None = None) -> str:
    """Colab link of a notebook *in the repository* (never of an executed copy)."""
    root = root or project_root()
    url = repository_url(root)
    slug = url.split("github.com/", 1)[1]
    rel = Path(notebook).resolve().relative_to(root).as_posix()
    return f"https://colab.research.google.com/github/{slug}/blob/main/{rel}"


def colab_badge(notebook: Path, root: Path | None = None) -> str:
    return ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"({colab_url(notebook, root)})")
