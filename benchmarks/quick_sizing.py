"""How big must the ``quick`` profile be for its victims to learn? (a script, not a test)

    python benchmarks/quick_sizing.py [--seed 0] [--candidates n_train:width:epochs[:stem_stride] ...]

Trains the ``quick`` recipe's victim (ResNet18 with the CIFAR stem, or a stride-2 one where a
candidate names stem stride 2; SGD 0.025, cosine, no
augmentation, 10% validation hold-out) on *natural* CIFAR-10 for each candidate size and
records its clean test accuracy (last epoch and at the epoch validation picks) and wall
time, on this machine. The issue's bar: at least 65% clean test accuracy without
augmentation, as a mean over the profile's seeds. Results are cached like any victim, so a
candidate that becomes the profile is not trained twice.

Writes ``benchmarks/results/quick_sizing-<machine>.json`` and prints one line per candidate.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from cgan_lib.artifacts import atomic_write_text
from cgan_lib.data import load_dataset
from cgan_lib.device import machine_info, machine_tag
from cgan_lib.profiles import PROFILES
from cgan_lib.victim import TrainSettings, victim_result

OUT = Path(__file__).resolve().parent / "results"
DEFAULT = ("3000:0.25:8", "10000:0.25:10", "20000:0.25:10", "10000:0.5:10")


def parse_candidate(c: str) -> tuple[str, str, str, int]:
    """``n_train:width:epochs[:stem_stride]`` -> its parts (stem stride 1 if not given)."""
    parts = c.split(":")
    try:
        if len(parts) not in (3, 4):
            raise ValueError
        int(parts[0]), float(parts[1]), int(parts[2])
        stride = int(parts[3]) if len(parts) == 4 else 1
        if stride not in (1, 2):
            raise ValueError
    except ValueError:
        raise SystemExit(f"candidate {c!r}: write n_train:width:epochs or "
                         f"n_train:width:epochs:stem_stride (stride 1 or 2), e.g. 20000:0.25:10:2") from None
    return parts[0], parts[1], parts[2], stride


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-test", type=int, default=2000)
    ap.add_argument("--candidates", nargs="+", default=list(DEFAULT))
    args = ap.parse_args(argv)
    quick = PROFILES["quick"]
    cands = [parse_candidate(c) for c in args.candidates]   # every one checked before training
    full = load_dataset("cifar10")
    rows = []
    path = OUT / f"quick_sizing-{machine_tag()}.json"
    for n, w, e, stride in cands:
        prof = quick.replace(n_train=int(n), width=float(w), victim_epochs=int(e), stem_stride=stride)
        d = full.subset(prof.n_train, args.n_test, 0)
        s = TrainSettings.victim(prof, seed=args.seed)
        t0 = time.time()
        h = victim_result(d.train_x, d.train_y, d.test_x, d.test_y, d.n_classes, s, False)
        row = {"n_train": int(n), "width": float(w), "epochs": int(e), "stem_stride": stride,
               "seed": args.seed,
               "final_test_acc": h["final_test_acc"], "early_stop_test_acc": h["early_stop_test_acc"],
               "train_seconds": h["seconds"], "call_seconds": round(time.time() - t0, 1),
               "device": h["device"]}
        rows.append(row)
        print(f"n={n} width={w} epochs={e} stem stride {stride}: final {100 * row['final_test_acc']:.1f}%, early stop "
              f"{100 * row['early_stop_test_acc']:.1f}%, {row['train_seconds']:.0f} s ({row['device']})",
              flush=True)
        atomic_write_text(json.dumps({**machine_info(),
                                      "written": time.strftime("%Y-%m-%d %H:%M:%S"),
                                      "n_test": args.n_test, "aug": "none", "rows": rows},
                                     indent=1), path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
