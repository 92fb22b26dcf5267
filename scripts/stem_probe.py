"""Exploratory probe for the ``ci`` profile (issue 10), not a chapter: where does the
stride-2 stem cost ConfounderGAN its effect, in the owner's models (the classifier f that G
is trained against) or in the victim?

    python scripts/stem_probe.py [--profile ci] [--seeds 0 1]

Trains, for every pair (owner's stem stride, victim's stem stride) in {1, 2} x {1, 2},
ConfounderGAN's victims on 100% protected data without augmentation, and natural victims of
each victim stride, one per seed; everything else is the profile's (cached like every
artifact, so the pairs the profile itself runs are read from the cache when present).
Writes ``results/probes/stem-<profile>-<machine>.json`` (clean test accuracy per seed, the
drop below the natural victim of the same stride and seed, mean and std) and prints a line
per setting. A probe guides how ``ci`` is sized; it is not a chapter's result.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cgan_lib.artifacts import atomic_write_text  # noqa: E402
from cgan_lib.device import machine_info, machine_tag  # noqa: E402
from cgan_lib.experiment import Experiment  # noqa: E402
from cgan_lib.profiles import get_profile  # noqa: E402

STRIDES = (2, 1)


def summary(values: list) -> dict:
    return {"mean": statistics.mean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="ci")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = ap.parse_args(argv)
    base = get_profile(args.profile)
    exps = {k: Experiment("stem_probe", base.replace(stem_stride=k), seeds=args.seeds,
                          progress=False) for k in STRIDES}
    out = {**machine_info(), "written": time.strftime("%Y-%m-%d %H:%M:%S"),
           "profile": base.name, "dataset": exps[2].data.name, "trainer": "none",
           "reads": "clean test accuracy of one victim per seed (final epoch); a probe, not a "
                    "chapter's result", "settings": {}}
    t0 = time.time()
    nat = {}
    for v in STRIDES:
        hists = exps[v].victims(lambda s: exps[v].data.train_x, desc=f"natural, victim stride {v}")
        nat[v] = dict(zip(args.seeds, exps[v].values(hists)))
        out["settings"][f"natural, victim stride {v}"] = {
            "owner_stride": None, "victim_stride": v,
            "test_acc": {str(s): a for s, a in nat[v].items()}, **summary(list(nat[v].values()))}
        print(f"natural, victim stride {v}: {[round(100 * a, 1) for a in nat[v].values()]}", flush=True)
    for o in STRIDES:
        for v in STRIDES:
            hists = exps[v].victims(lambda s: exps[o].protect("confoundergan", seed=s),
                                    desc=f"confoundergan, owner {o}, victim {v}")
            acc = dict(zip(args.seeds, exps[v].values(hists)))
            gaps = [nat[v][s] - acc[s] for s in args.seeds]
            out["settings"][f"confoundergan, owner stride {o}, victim stride {v}"] = {
                "owner_stride": o, "victim_stride": v,
                "test_acc": {str(s): a for s, a in acc.items()}, **summary(list(acc.values())),
                "drop_below_natural": {str(s): g for s, g in zip(args.seeds, gaps)},
                "drop_mean": statistics.mean(gaps),
                "drop_std": statistics.stdev(gaps) if len(gaps) > 1 else 0.0}
            print(f"confoundergan, owner stride {o}, victim stride {v}: "
                  f"{[round(100 * a, 1) for a in acc.values()]}; drop "
                  f"{100 * statistics.mean(gaps):.1f} points", flush=True)
    out["seconds"] = round(time.time() - t0, 1)
    dst = ROOT / "results" / "probes" / f"stem-{base.name}-{machine_tag()}.json"
    atomic_write_text(json.dumps(out, indent=1) + "\n", dst)
    print(f"wrote {dst.relative_to(ROOT)} ({out['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
