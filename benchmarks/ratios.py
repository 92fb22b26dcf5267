"""Speed ratios that the project's goals are stated in (a script, not a test).

    python benchmarks/ratios.py [--images 2000] [--epochs 1]

On real CIFAR-10 (``$CGAN_DATA``, else the default data root), on this machine's device:

* ``protect_vs_emn_ratio``: images/s of ``protect`` (one forward pass of G) against EMN's
  cost per image (its generation time divided by the images it produced), EMN with the
  paper's ResNet18 source model and the paper's inner/outer steps, for ``--emn-rounds``
  rounds (EMN's real cost is that times the rounds it needs to reach its stop condition);
* ``victim_speed_ratio``: our training engine (uint8 tensors on the device, batch
  augmentation on the device, statistics accumulated on the device) against a plain
  torchvision ``DataLoader`` loop with per-image transforms, same model, same
  augmentation (random crop + flip), same images and epochs.

Writes ``benchmarks/results/ratios-<machine>.json`` with the machine it ran on and prints
a one-line summary.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from cgan_lib.artifacts import atomic_write_text
from cgan_lib.baselines import EMNSettings, error_minimizing_noise
from cgan_lib.data import load_dataset
from cgan_lib.device import get_device, machine_info, machine_tag
from cgan_lib.gan import protect_tensor
from cgan_lib.models import Generator
from cgan_lib.profiles import PAPER, epsilon_for
from cgan_lib.victim import TrainSettings, new_classifier, train_model

OUT = Path(__file__).resolve().parent / "results"


def plain_loop(x_u8, y, test_x, test_y, n_classes, s: TrainSettings) -> float:
    """The textbook loop: a Dataset of uint8 tensors, per-image v2 transforms in the
    DataLoader, one ``.item()`` per step, the clean test set evaluated after every epoch
    (as our engine does). Returns seconds."""
    from cgan_lib.victim import evaluate
    from torch.utils.data import DataLoader, Dataset
    from torchvision.transforms import v2

    tf = v2.Compose([v2.RandomCrop(x_u8.shape[-1], padding=4), v2.RandomHorizontalFlip(),
                     v2.ToDtype(torch.float32, scale=True)])

    class DS(Dataset):
        def __len__(self):
            return len(x_u8)

        def __getitem__(self, i):
            return tf(x_u8[i]), y[i]

    dev = get_device()
    torch.manual_seed(s.seed)
    model = new_classifier(x_u8, n_classes, s).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=s.lr, momentum=0.9, weight_decay=s.weight_decay)
    loader = DataLoader(DS(), batch_size=s.batch_size, shuffle=True, num_workers=0,
                        pin_memory=dev.type == "cuda")
    t0 = time.time()
    for _ in range(s.epochs):
        model.train()
        total = 0.0
        for xb, yb in loader:
            xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
        evaluate(model, test_x, test_y)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return time.time() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=2000, help="CIFAR-10 training images used")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--width", type=float, default=1.0, help="ResNet18 width (1 = the paper's)")
    ap.add_argument("--emn-rounds", type=int, default=1)
    ap.add_argument("--data-root", default=None)
    args = ap.parse_args()
    dev = get_device()
    data = load_dataset("cifar10", args.data_root).subset(args.images, 500)
    x, y = data.train_x, data.train_y
    eps = epsilon_for("cifar10")

    # protect: one forward pass of an (untrained: same cost) generator of the paper's width
    G = Generator(3, eps, PAPER.gen_width).to(dev).eval()
    protect_tensor(G, x[:256])
    t0 = time.time()
    protect_tensor(G, x)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    protect_s = (time.time() - t0) / len(x)

    es = EMNSettings.from_profile(PAPER.replace(width=args.width), eps, max_rounds=args.emn_rounds,
                                  stop_error=-1.0)          # run the rounds asked for
    _, info = error_minimizing_noise(x, y, 10, es, progress=False)
    emn_s = info["seconds"] / len(x)

    s = TrainSettings(width=args.width, epochs=args.epochs, aug="flip+crop", val_fraction=0.0,
                      batch_size=PAPER.batch_size)
    t0 = time.time()
    train_model(x, y, data.test_x, data.test_y, 10, s, progress=False)
    ours_s = time.time() - t0
    plain_s = plain_loop(x, y, data.test_x, data.test_y, 10, s)

    res = {
        **machine_info(dev), "written": time.strftime("%Y-%m-%d %H:%M:%S"), "images": len(x), "epochs": args.epochs,
        "width": args.width,
        "protect_images_per_s": 1 / protect_s, "emn_seconds_per_image_per_round": emn_s / args.emn_rounds,
        "emn_rounds": args.emn_rounds, "protect_vs_emn_ratio": emn_s / protect_s,
        "victim_engine_s": ours_s, "victim_plain_dataloader_s": plain_s,
        "victim_speed_ratio": plain_s / ours_s,
        "note": "EMN's cost per image is per round here; it needs several rounds to reach its "
                "stop condition, so the ratio is a lower bound.",
    }
    OUT.mkdir(parents=True, exist_ok=True)
    path = atomic_write_text(json.dumps(res, indent=1), OUT / f"ratios-{machine_tag(dev)}.json")
    print(f"[ratios] {res['machine']}: protect_vs_emn_ratio {res['protect_vs_emn_ratio']:.0f} "
          f"(protect {res['protect_images_per_s']:.0f} img/s; EMN {1e3 * emn_s:.1f} ms/img/round), "
          f"victim_speed_ratio {res['victim_speed_ratio']:.2f} (engine {ours_s:.1f} s vs "
          f"DataLoader {plain_s:.1f} s) -> {path}")


if __name__ == "__main__":
    main()
