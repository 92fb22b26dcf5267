"""One prepared GPU check at full scale, to fit one 10-minute call (a script, not a test).

    python benchmarks/gpu.py [--budget 540] [--quick-book]

On the first CUDA device (it refuses to run on a CPU):

1. the paper profile's victim (full-width ResNet18, batch 128, random crop + flip) on
   full-size CIFAR-10 tensors (50,000 x 3 x 32 x 32): training images/s in bf16 autocast,
   without and with ``torch.compile``; from it, one 90-epoch victim's time;
2. one ConfounderGAN epoch (G, D and a frozen ResNet18 f) on 50,000 images;
3. EMN's cost per image and round with the paper's ResNet18 source model;
4. with ``--quick-book`` and CIFAR-10 under ``$CGAN_DATA``: the whole ``quick`` book;
5. the ``paper`` profile's extrapolated total time.

The images are real CIFAR-10 where ``$CGAN_DATA`` has it, else random uint8 tensors of
CIFAR-10's shape (speed does not depend on the pixels; the JSON says which). Writes
``benchmarks/results/gpu-<name>.json`` with the GPU's name and prints one summary line.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cgan_lib.artifacts import atomic_write_text  # noqa: E402
from cgan_lib.baselines import EMNSettings, error_minimizing_noise  # noqa: E402
from cgan_lib.device import machine_info, machine_tag  # noqa: E402
from cgan_lib.gan import train_confoundergan  # noqa: E402
from cgan_lib.profiles import PAPER, epsilon_for  # noqa: E402
from cgan_lib.victim import TrainSettings, new_classifier, train_model  # noqa: E402

OUT = ROOT / "benchmarks" / "results"


def cifar_like(n_train=50_000, n_test=10_000):
    from cgan_lib.data import ImageData, load_dataset
    try:
        d = load_dataset("cifar10")
        return d, "real CIFAR-10"
    except Exception as e:  # no data on this machine: shape-only tensors
        g = torch.Generator().manual_seed(0)
        rnd = lambda n: (torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8),
                         torch.randint(0, 10, (n,), generator=g))
        (xtr, ytr), (xte, yte) = rnd(n_train), rnd(n_test)
        return ImageData("cifar10", [str(i) for i in range(10)], xtr, ytr, xte, yte,
                         "random tensors"), f"random tensors of CIFAR-10's shape ({type(e).__name__})"


def victim_rate(data, compile_: bool, epochs: int = 2) -> float:
    os.environ["CGAN_COMPILE"] = "1" if compile_ else "0"
    s = TrainSettings(epochs=epochs, aug="flip+crop", val_fraction=0.1, batch_size=PAPER.batch_size)
    train_model(data.train_x[:5000], data.train_y[:5000], data.test_x[:1000], data.test_y[:1000],
                10, TrainSettings(epochs=1, batch_size=128), progress=False)          # warm-up
    torch.cuda.synchronize()
    t0 = time.time()
    _, h = train_model(data.train_x, data.train_y, data.test_x, data.test_y, 10, s, progress=False)
    torch.cuda.synchronize()
    return h["n_train"] * epochs / (time.time() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick-book", action="store_true")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("benchmarks/gpu.py needs a CUDA GPU; on a CPU use benchmarks/ratios.py.")
    dev_name = torch.cuda.get_device_name(0)
    data, source = cifar_like()
    res = {**machine_info(torch.device("cuda")), "data": source,
           "written": time.strftime("%Y-%m-%d %H:%M:%S")}
    t_all = time.time()

    res["victim_images_per_s_bf16"] = victim_rate(data, False)
    res["victim_images_per_s_bf16_compile"] = victim_rate(data, True)
    best = max(res["victim_images_per_s_bf16"], res["victim_images_per_s_bf16_compile"])
    res["paper_victim_90_epochs_s"] = 90 * 45_000 / best

    # one ConfounderGAN epoch, f = an (untrained: same cost) full-width ResNet18
    f = new_classifier(data.train_x, 10, TrainSettings()).cuda().eval()
    for p in f.parameters():
        p.requires_grad_(False)
    prof = PAPER.replace(gan_epochs=1)
    t0 = time.time()
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        train_confoundergan(data, f, prof, 0, epsilon_for("cifar10"),
                            checkpoint=Path(tmp) / "g.pt", progress=False)
    torch.cuda.synchronize()
    res["gan_epoch_s"] = time.time() - t0

    # EMN: one round on 5,000 images with the paper's settings
    es = EMNSettings.from_profile(PAPER, epsilon_for("cifar10"), max_rounds=1, stop_error=-1.0)
    _, info = error_minimizing_noise(data.train_x[:5000], data.train_y[:5000], 10, es, progress=False)
    res["emn_s_per_image_per_round"] = info["seconds"] / 5000

    if args.quick_book:
        t0 = time.time()
        r = subprocess.run([sys.executable, "-m", "cgan_lib", "book", "--profile", "quick",
                            "--no-build"], cwd=ROOT, capture_output=True, text=True)
        res["quick_book_s"] = time.time() - t0
        res["quick_book_rc"] = r.returncode

    # the paper profile on CIFAR-10, extrapolated: per seed, f (90 epochs) + G (200 epochs) +
    # EMN (rounds x 50,000 images) + the victims of chapters 01-03 (about 20 per seed)
    per_seed = (90 * 50_000 / best + 200 * res["gan_epoch_s"]
                + PAPER.emn_max_rounds * 50_000 * res["emn_s_per_image_per_round"]
                + 20 * res["paper_victim_90_epochs_s"])
    res["paper_chapters_01_03_extrapolated_h"] = len(PAPER.seeds) * per_seed / 3600
    res["seconds"] = time.time() - t_all
    OUT.mkdir(parents=True, exist_ok=True)
    path = atomic_write_text(json.dumps(res, indent=1),
                             OUT / f"gpu-{machine_tag(torch.device('cuda'))}.json")
    print(f"[gpu] {dev_name}: victim {res['victim_images_per_s_bf16']:.0f} img/s "
          f"({res['victim_images_per_s_bf16_compile']:.0f} compiled) -> one 90-epoch ResNet18 "
          f"{res['paper_victim_90_epochs_s'] / 60:.1f} min; GAN epoch {res['gan_epoch_s']:.0f} s; "
          f"EMN {1e3 * res['emn_s_per_image_per_round']:.2f} ms/img/round; paper chapters 01-03 "
          f"about {res['paper_chapters_01_03_extrapolated_h']:.1f} h -> {path}")


if __name__ == "__main__":
    main()
