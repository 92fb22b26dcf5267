"""Our batch augmentations against kornia's, on the same batches (not a test: writes JSON).

    python benchmarks/augment.py [--batch 128] [--repeat 200]

The issue asked whether `kornia.augmentation` (per-sample parameters on device batches)
should replace `cgan_lib.augment`'s own flip, crop (zero padding 4) and cutout. Both draw
per-image parameters; this measures time per batch of CIFAR-10-sized images on this
machine's device, and writes ``benchmarks/results/augment-<device>.json``. The unit tests
(`tests/test_augment.py`) check that each of ours does what the paper's trainer does.
"""
import argparse
import json
import time
from pathlib import Path

import torch

from cgan_lib.augment import cutout, random_crop, random_flip
from cgan_lib.device import get_device, machine_info, machine_tag


def per_batch(fn, x, repeat):
    fn(x)
    if x.device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(repeat):
        fn(x)
    if x.device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / repeat


def main():
    import kornia.augmentation as K
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=200)
    a = ap.parse_args()
    dev = get_device()
    torch.manual_seed(0)
    x = torch.rand(a.batch, 3, 32, 32, device=dev)
    kflip = K.RandomHorizontalFlip(p=0.5).to(dev)
    kcrop = K.RandomCrop((32, 32), padding=4, fill=0.0).to(dev)
    kcut = K.RandomErasing(p=1.0, scale=(0.25, 0.25), ratio=(1.0, 1.0), value=0.0).to(dev)
    pairs = {
        "flip": (random_flip, kflip),
        "crop (pad 4)": (lambda b: random_crop(b, 4), kcrop),
        "flip + crop": (lambda b: random_crop(random_flip(b), 4), lambda b: kcrop(kflip(b))),
        "cutout 16 px": (lambda b: cutout(b, 16), kcut),
    }
    rows = []
    for name, (ours, theirs) in pairs.items():
        t_ours, t_k = per_batch(ours, x, a.repeat), per_batch(theirs, x, a.repeat)
        rows.append({"transform": name, "ours_ms": 1000 * t_ours, "kornia_ms": 1000 * t_k,
                     "kornia_over_ours": t_k / t_ours})
        print(f"{name:14s} ours {1000 * t_ours:7.3f} ms  kornia {1000 * t_k:7.3f} ms  "
              f"(kornia/ours {t_k / t_ours:.1f}x)")
    out = {**machine_info(dev), "written": time.strftime("%Y-%m-%d"), "batch": a.batch, "image": [3, 32, 32],
           "repeat": a.repeat, "augment_rows": rows,
           "note": "Per batch on the device, after one warm-up call; kornia "
                   f"{__import__('kornia').__version__}. Cutout: kornia's RandomErasing with a "
                   "fixed 16x16 square (scale 0.25 of 32x32, ratio 1)."}
    path = Path(__file__).parent / "results" / f"augment-{machine_tag(dev)}.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
