"""Numbers published by later work on countermeasures, carried as data with their source.

Clean test accuracy (%) of CIFAR-10 ResNet18 victims trained on 100% protected data, each
trainer with random crop + flip, and one countermeasure. Not ConfounderGAN: neither source
evaluates it. Chapter 08 shows these beside ours and never as ours.

* ISS: Liu, Zhao and Larson, "Image Shortcut Squeezing: Countering Perturbative Availability
  Poisons with Compression", ICML 2023 (its repository's README table).
* APBench: Qin et al., "APBench: A Unified Benchmark for Availability Poisoning Attacks and
  Defenses", 2023 (its leaderboard; adversarial training at 8/255).
"""
from __future__ import annotations

COLUMNS = ("none", "grayscale", "jpeg-10", "bdr", "at-8")

# method -> (values per column, None where not reported), source
ROWS = {
    "EMN (sample-wise), ISS": ((21.05, 93.01, 81.50, None, None), "ISS README"),
    "EMN, APBench": ((20.78, 92.03, 80.72, 37.94, 82.51), "APBench leaderboard"),
    "autoregressive (AR), APBench": ((11.74, 35.17, 84.75, 36.14, 81.15), "APBench leaderboard"),
    "one-pixel shortcut (OPS), APBench": ((14.69, 19.88, 78.48, 37.32, 14.95), "APBench leaderboard"),
    # ISS's clean (natural) victims under the same three trainers
    "natural, ISS": ((94.68, 92.41, 85.38, None, None), "ISS README"),
}


def rows() -> list[dict]:
    """One row per (method, countermeasure) with a reported value (accuracy in %)."""
    out = []
    for method, (vals, source) in ROWS.items():
        for cm, v in zip(COLUMNS, vals):
            if v is not None:
                out.append({"method": method, "countermeasure": cm, "test_acc": v,
                            "source": source, "dataset": "cifar10", "arch": "resnet18"})
    return out
