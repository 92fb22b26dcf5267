"""Exploratory probe for chapter 9 (issue 11), not a chapter: does the label-conditioned class
texture survive crop + flip at ``quick`` scale, and what do its budget and tile buy?

    python scripts/hardened_probe.py [--profile quick] [--seeds 0 1] [--settings natural linf ...]

Each setting is a protection of chapter 9's registry, trained against by a victim of the
profile's recipe with random crop + flip, one victim per seed (cached like every artifact:
a rerun reads what an earlier one finished). Settings:

* ``natural``: clean images; ``cwn``: class-wise noise (L-inf budget);
* ``texture-label``: ``hardened-texture-label`` (ConfounderGAN's L-inf and L2 bounds, tile 8);
* ``linf``: ``hardened-texture-label-linf`` (the L-inf bound alone, tile 8);
* ``linf-tileN``: the same with a tile of N pixels.

Writes ``results/probes/hardened-<profile>-<machine>.json`` (clean test accuracy and mean
noise L2 per seed, the machine) and prints a line per victim. A probe's numbers
guide what chapter 9 runs next; they are not the chapter's results.
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

from cgan_lib import metrics  # noqa: E402
from cgan_lib.artifacts import atomic_write_text  # noqa: E402
from cgan_lib.device import machine_info, machine_tag  # noqa: E402
from cgan_lib.experiment import Experiment  # noqa: E402

SETTINGS = ("natural", "cwn", "texture-label", "linf")


def protection(name: str) -> tuple[str, dict]:
    """``(registered protection, overrides)`` of a setting name."""
    if name in ("natural", "cwn"):
        return name, {}
    if name == "texture-label":
        return "hardened-texture-label", {}
    if name == "linf":
        return "hardened-texture-label-linf", {}
    if name.startswith("linf-tile") and name[9:].isdigit():
        return "hardened-texture-label-linf", {"tile": int(name[9:])}
    raise ValueError(f"Unknown setting {name!r}: use {', '.join(SETTINGS)} or linf-tileN "
                     f"(N: the tile's period in pixels).")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="quick")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--settings", nargs="+", default=list(SETTINGS))
    args = ap.parse_args(argv)
    plan = {n: protection(n) for n in args.settings}          # bad names fail before training
    out_path = ROOT / "results" / "probes" / f"hardened-{args.profile}-{machine_tag()}.json"
    old = json.loads(out_path.read_text()) if out_path.is_file() else {}
    res = old.get("settings", {})
    exp = Experiment("09_hardened_generator", args.profile, seeds=tuple(args.seeds), progress=False)
    d = exp.data                                               # one subset for every seed
    for name, (method, over) in plan.items():
        for s in args.seeds:
            x = d.train_x if method == "natural" else exp.protect(method, seed=s, **over)
            t = time.time()
            h = exp.victims(lambda s_: x, aug="flip+crop", curves=False, desc=name, seeds=(s,))[s]
            row = res.setdefault(name, {"protection": method, "overrides": over, "seeds": {}})
            row["seeds"][str(s)] = {"test_acc": h["final_test_acc"],
                                    "early_stop_test_acc": h.get("early_stop_test_acc"),
                                    "train_seconds": h.get("seconds"),
                                    "written": time.strftime("%Y-%m-%d %H:%M:%S")}
            if method != "natural":
                row["seeds"][str(s)]["noise_l2"] = float(metrics.l2(metrics.noise_of(x, d.train_x)).mean())
            accs = [v["test_acc"] for v in row["seeds"].values()]
            row["mean"] = statistics.mean(accs)
            row["std"] = statistics.stdev(accs) if len(accs) > 1 else None
            print(f"{name} seed {s}: {100 * h['final_test_acc']:.1f}% "
                  f"({round(time.time() - t)} s)", flush=True)
            doc = {**machine_info(), "written": time.strftime("%Y-%m-%d %H:%M:%S"),
                   "profile": args.profile, "dataset": d.name, "trainer": "flip+crop",
                   "reads": "clean test accuracy of one victim per seed (final epoch); a "
                            "probe, not a chapter's result", "settings": res}
            atomic_write_text(json.dumps(doc, indent=1), out_path)
    print(f"wrote {out_path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
