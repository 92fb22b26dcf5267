"""Probes: exploratory runs of ``scripts/*_probe.py``, committed under ``results/probes/``.

A probe is not a chapter's result, but where it trains the same victims as a chapter (same
profile, data subset, protection and trainer) on other seeds or another machine, it says
how far a chapter's verdict can be trusted. :func:`remeasured_table` puts the two side by
side for the book's scoreboard, each checked with the paper's rule (:func:`paper.check`),
with the machine and seeds each came from.
"""
from __future__ import annotations

from pathlib import Path

from .artifacts import pct, read_json_object, read_run, results_dir
from .augment import LABELS as AUG

PROBES_DIR = "probes"

# What a probe can re-measure: (claim, the trainer, the chapter's experiment key, the probe
# setting of the claim's a side, of its b side). The chapter's records of that experiment
# name the same methods under the trainer's label.
REMEASURED = (
    ("sec4.2.cwn_below_natural", "flip+crop", "sec4.2-cwn", "cwn", "natural"),
)


def load(profile: str, root: Path | None = None) -> list[dict]:
    """Every committed probe of ``profile`` (``results/probes/*.json``), each with its file
    name under ``"file"``; a file that is not valid JSON is named in the error."""
    out = []
    for f in sorted((Path(root or results_dir()) / PROBES_DIR).glob("*.json")):
        doc = read_json_object(f, "Probe file", "a probe's object",
                               f"restore it from git (git checkout -- results/{PROBES_DIR}/"
                               f"{f.name}) or rerun its probe")
        if doc.get("profile") == profile:
            out.append({**doc, "file": f.name})
    return out


def seed_values(probe: dict, setting: str, metric: str = "test_acc") -> dict[int, float]:
    """``{seed: value}`` of one setting of a probe (empty where it did not run)."""
    seeds = probe.get("settings", {}).get(setting, {}).get("seeds", {})
    return {int(s): float(v[metric]) for s, v in seeds.items() if v.get(metric) is not None}


def chapter_values(records: list[dict], experiment: str, method: str, setting: str,
                   metric: str = "test_acc", dataset: str | None = None) -> dict[int, float]:
    """``{seed: value}`` of a chapter's per-seed record (empty where it has none, or where
    ``dataset`` is given and the record's is another)."""
    for r in records:
        if (r.get("experiment"), r.get("method"), r.get("setting"), r.get("metric")) != \
                (experiment, method, setting, metric) or not r.get("seeds"):
            continue
        if dataset is not None and r.get("dataset") not in (None, dataset):
            continue
        values = r.get("values") or []
        if len(values) != len(r["seeds"]):
            raise ValueError(f"Record {experiment}/{method}/{setting} of notebook "
                             f"{r.get('notebook')} has {len(r['seeds'])} seeds but "
                             f"{len(values)} values; rerun that chapter to rewrite it.")
        return {int(s): float(v) for s, v in zip(r["seeds"], values)}
    return {}


def _paired(a: dict, b: dict) -> tuple[list[int], list[float], list[float]]:
    seeds = sorted(set(a) & set(b))
    return seeds, [a[s] for s in seeds], [b[s] for s in seeds]


def _pcts(values) -> str:
    return ", ".join(pct(v) for v in values)


def _label(probe: dict) -> str:
    isa = probe.get("cpu_isa")
    cpu = f"{probe.get('cpu')} ({', '.join(isa)})" if isa else probe.get("cpu")
    return f"probe `{probe['file']}`: {probe.get('machine')} on {cpu}, last written {probe.get('written')}"


def _chapter_label(records, experiment, written, profile) -> str:
    nb = next((r.get("notebook") for r in records if r.get("experiment") == experiment), None)
    when, device = written.get(nb, (None, None))
    return f"chapter run `results/{profile}/{nb}.json`: {device}, written {when}"


def remeasured_table(profile: str, root: Path | None = None) -> str:
    """A Markdown table of every claim a committed probe of ``profile`` re-measured: the
    chapter's run and the probe's, their per-seed values and each one's verdict."""
    from . import paper
    root = Path(root or results_dir())
    run = read_run(root / profile)
    records = [r for doc in run for r in doc["records"]]
    written = {doc["notebook"]: (doc["written"], doc["device"]) for doc in run}
    rows = []
    probes = [p for p in load(profile, root) if p.get("trainer") is not None]
    for claim, trainer, experiment, a_set, b_set in REMEASURED:
        c, label = paper.CLAIMS[claim], AUG[trainer]
        runs = []
        for probe in probes:
            if probe["trainer"] != trainer:
                continue
            pa, pb = seed_values(probe, a_set), seed_values(probe, b_set)
            if not _paired(pa, pb)[0]:
                continue
            ds = probe.get("dataset")
            # the chapter's run first, once, over the probes' dataset
            if not runs:
                runs.append((_chapter_label(records, experiment, written, profile),
                             chapter_values(records, experiment, a_set, label, dataset=ds),
                             chapter_values(records, experiment, b_set, label, dataset=ds)))
            runs.append((_label(probe), pa, pb))
        for name, a, b in runs:
            seeds, va, vb = _paired(a, b)
            if not seeds:
                continue
            r = paper.check(claim, va, vb)
            rows.append(f"| {c.statement} ({c.ref}, {label}) | {name} | seeds "
                        f"{', '.join(map(str, seeds))}: {c.a} {_pcts(va)}; {c.b} {_pcts(vb)} | "
                        f"**{r.status}** ({pct(r.diff_mean, sign=True)} ± {pct(r.diff_std)} pts) |")
    if not rows:
        return f"No committed probe of the `{profile}` profile re-measures a chapter's claim yet."
    # four columns, so that the verdict stays on a book page without scrolling
    head = ("| claim (where, trainer) | run | clean test accuracy per seed (%) | verdict (b minus a) |\n"
            "|---|---|---|---|")
    return head + "\n" + "\n".join(rows)
