"""What each notebook of a profile cost on this machine (not a test: writes JSON).

    python benchmarks/book_costs.py [--profile ci] [--ci-log /tmp/ci.log]

Run it after ``python -m cgan_lib book --profile P`` (or a clean-clone ``.ci/run``) on a
cold cache. It reads the runner's ``results/<P>/_status.json`` (each notebook's wall time
and peak resident memory of its last run that computed something), keeps the rows measured
on *this* machine (a status file can hold rows from several), and writes
``benchmarks/results/book-<P>-<machine>.json`` with the per-notebook figures, their sum,
and, when ``--ci-log`` names a ``.ci/run`` log, the whole CI's duration and test count. The
goals (issue 10): ``ci`` at most 20 minutes of notebooks and a clean-clone CI at most 30
minutes on 2 CPU cores; ``quick`` at most 2 hours a chapter on a CPU.
"""
from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

from cgan_lib.artifacts import atomic_write_text
from cgan_lib.book import cold_cost
from cgan_lib.device import cpu_label, machine_info, machine_tag

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results"
GOAL_S = {"ci": 20 * 60, "quick": 2 * 3600}     # per book (ci) / per chapter (quick)


def costs(status: dict, cpu: str | None) -> list[dict]:
    """The cold rows of a runner status measured on ``cpu`` (a :func:`cpu_label`; all
    rows if it is None)."""
    rows = []
    for r in status.get("notebooks", []):
        c = r.get("cold")
        if not c or (cpu and c.get("cpu") != cpu):
            continue
        secs, made, runs = cold_cost(c)   # a chapter resumed over several runs: all of them
        rows.append({"notebook": r["notebook"], "seconds": secs,
                     "peak_rss_mb": c.get("peak_rss_mb"), "artifacts": made,
                     "started": c.get("started"), "device": c.get("device")})
        if runs > 1:
            rows[-1]["runs"] = runs
        if c.get("seeds") is not None:   # a --seeds run: its cost is for these seeds only
            rows[-1]["seeds"] = c["seeds"]
    return rows


def warm_only(status: dict, cpu: str | None) -> list[dict]:
    """Notebooks of the status with no cold row on ``cpu``: they computed nothing
    themselves (their artifacts came from an earlier chapter or the cache), so their
    seconds are a reading cost, not a training cost."""
    cold = {r["notebook"] for r in costs(status, cpu)}
    return [{"notebook": r["notebook"], "seconds": r.get("seconds"),
             "peak_rss_mb": r.get("peak_rss_mb"), "computed": r.get("computed")}
            for r in status.get("notebooks", [])
            if r["notebook"] not in cold and (not cpu or r.get("cpu") == cpu)
            and r.get("status", "ok") not in ("interrupted", "failed")]   # a stopped run: part of a cost


def read_ci_log(path: Path) -> dict:
    """``CI finished in N s`` and pytest's ``K passed`` from a ``.ci/run`` log."""
    text = path.read_text(errors="replace")
    secs = re.findall(r"CI finished in (\d+) s", text)
    passed = re.findall(r"(\d+) passed", text)
    if not secs:
        raise SystemExit(f"{path}: no 'CI finished in N s' line; did the CI run end?")
    return {"ci_seconds": int(secs[-1]), "ci_tests_passed": int(passed[-1]) if passed else None}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="ci")
    ap.add_argument("--status", type=Path, help="a _status.json (default: results/<profile>/)")
    ap.add_argument("--ci-log", type=Path, help="the log of a clean-clone .ci/run on this machine")
    a = ap.parse_args(argv)
    path = a.status or ROOT / "results" / a.profile / "_status.json"
    if not path.is_file():
        raise SystemExit(f"{path} does not exist: run `python -m cgan_lib book --profile "
                         f"{a.profile}` first.")
    info, cpu = machine_info(), cpu_label()
    status = json.loads(path.read_text())
    rows = costs(status, cpu)
    if not rows:
        raise SystemExit(f"{path} holds no run of profile {a.profile} measured on this CPU "
                         f"({cpu}): run the book here first.")
    out = {**info, "written": time.strftime("%Y-%m-%d %H:%M:%S"), "profile": a.profile,
           "notebook_rows": rows, "notebooks_seconds": round(sum(r["seconds"] for r in rows), 1),
           "peak_rss_mb": max((r["peak_rss_mb"] or 0) for r in rows),
           # the ci goal counts the paper's seven chapters (01-07)
           "paper_chapters_seconds": round(sum(r["seconds"] for r in rows
                                               if r["notebook"][:2] <= "07"), 1),
           "not_cold": warm_only(status, cpu),
           "goal_seconds": GOAL_S.get(a.profile),
           "goal_reads": "the paper's seven chapters together" if a.profile == "ci"
           else "each notebook"}
    if a.ci_log:
        out.update(read_ci_log(a.ci_log))
    dst = OUT / f"book-{a.profile}-{machine_tag()}.json"
    atomic_write_text(json.dumps(out, indent=1), dst)
    for r in rows:
        print(f"{r['notebook']:28s} {r['seconds']:7.0f} s  {r['peak_rss_mb'] or 0:6,.0f} MB")
    for r in out["not_cold"]:
        print(f"{r['notebook']:28s} {r['seconds'] or 0:7.0f} s  (computed nothing itself: "
              "not counted)")
    print(f"{a.profile}: {len(rows)} notebooks, {out['notebooks_seconds']:,.0f} s "
          f"(chapters 01-07: {out['paper_chapters_seconds']:,.0f} s)"
          + (f"; whole CI {out['ci_seconds']:,} s" if "ci_seconds" in out else "") + f" -> {dst}")


if __name__ == "__main__":
    main()
