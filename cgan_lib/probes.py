"""Probes: exploratory runs of ``scripts/*_probe.py``, committed under ``results/probes/``.

A probe is not a chapter's result, but where it trains the same victims as a chapter (same
profile, data subset, protection and trainer) on other seeds or another machine, it says
how far a chapter's verdict can be trusted. :func:`remeasured_table` puts the two side by
side for the book's scoreboard, each checked with the paper's rule (:func:`paper.check`),
with the machine and seeds each came from.
"""
from __future__ import annotations

import json
from pathlib import Path

from .artifacts import results_dir, spread
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
        try:
            doc = json.loads(f.read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"Probe file {f} is not valid JSON ({e}); restore it from git "
                             f"(git checkout -- {f.name}) or rerun its probe.") from e
        if doc.get("profile") == profile:
            out.append({**doc, "file": f.name})
    return out


def seed_values(probe: dict, setting: str, metric: str = "test_acc") -> dict[int, float]:
    """``{seed: value}`` of one setting of a probe (empty where it did not run)."""
    seeds = probe.get("settings", {}).get(setting, {}).get("seeds", {})
    return {int(s): float(v[metric]) for s, v in seeds.items() if v.get(metric) is not None}


def chapter_values(records: list[dict], experiment: str, method: str, setting: str,
                   metric: str = "test_acc") -> dict[int, float]:
    """``{seed: value}`` of a chapter's per-seed record (empty where it has none)."""
    for r in records:
        if (r.get("experiment"), r.get("method"), r.get("setting"), r.get("metric")) == \
                (experiment, method, setting, metric) and r.get("seeds"):
            return {int(s): float(v) for s, v in zip(r["seeds"], r["values"])}
    return {}


def _paired(a: dict, b: dict) -> tuple[list[int], list[float], list[float]]:
    seeds = sorted(set(a) & set(b))
    return seeds, [a[s] for s in seeds], [b[s] for s in seeds]


def _pcts(values) -> str:
    return ", ".join(f"{100 * v:.1f}" for v in values)


def _label(probe: dict) -> str:
    isa = probe.get("cpu_isa")
    cpu = f"{probe.get('cpu')} ({', '.join(isa)})" if isa else probe.get("cpu")
    return f"probe `{probe['file']}`: {probe.get('machine')} on {cpu}, written {probe.get('written')}"


def _chapter_label(records, experiment, written, profile) -> str:
    nb = next((r.get("notebook") for r in records if r.get("experiment") == experiment), None)
    when, device = written.get(nb, (None, None))
    return f"chapter run `results/{profile}/{nb}.json`: {device}, written {when}"


def remeasured_table(profile: str, root: Path | None = None) -> str:
    """A Markdown table of every claim a committed probe of ``profile`` re-measured: the
    chapter's run and the probe's, their per-seed values and each one's verdict."""
    from . import paper
    root = Path(root or results_dir())
    records, written = [], {}
    for f in sorted((root / profile).glob("[!_]*.json")):
        doc = json.loads(f.read_text())
        nb = doc.get("notebook", f.stem)
        records += [{**r, "notebook": nb} for r in doc.get("records", [])]
        written[nb] = (doc.get("written"), doc.get("device"))
    rows = []
    for probe in load(profile, root):
        if probe.get("trainer") is None:
            continue
        for claim, trainer, experiment, a_set, b_set in REMEASURED:
            if probe["trainer"] != trainer:
                continue
            label = AUG[trainer]
            runs = [(_chapter_label(records, experiment, written, profile),
                     chapter_values(records, experiment, a_set, label),
                     chapter_values(records, experiment, b_set, label)),
                    (_label(probe), seed_values(probe, a_set), seed_values(probe, b_set))]
            for name, a, b in runs:
                seeds, va, vb = _paired(a, b)
                if not seeds:
                    continue
                c, r = paper.CLAIMS[claim], paper.check(claim, va, vb)
                dm, ds = spread([y - x for x, y in zip(va, vb)])
                rows.append(f"| {c.statement} | {c.ref}, {label} | {name} | "
                            f"{', '.join(map(str, seeds))} | {c.a}: {_pcts(va)} | {c.b}: "
                            f"{_pcts(vb)} | **{r.status}** ({100 * dm:+.1f} ± {100 * ds:.1f} pts) |")
    if not rows:
        return f"No committed probe of the `{profile}` profile re-measures a chapter's claim yet."
    head = ("| claim | where | run | seeds | a per seed (%) | b per seed (%) | verdict (b minus a) |\n"
            "|---|---|---|---|---|---|---|")
    return head + "\n" + "\n".join(rows)
