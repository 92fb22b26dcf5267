"""A classifier's training step with the CIFAR stem (stride 1) against a stride-2 stem (not a
test: writes JSON).

    python benchmarks/stem_stride.py [--profile ci] [--repeat 20]

The ``ci`` profile gives its classifiers (f, EMN's source model, the victims) a stride-2
first convolution (``Profile.stem_stride``) so that CI fits its budget on a 2-core CPU
without native bf16. This times one SGD step of the profile's classifier on a batch of the
profile's size and image shape, with each stride, on this machine's device, one after the
other in one process (one warm-up step each), and writes
``benchmarks/results/stem_stride-<profile>-<machine>.json`` with the ratio.
"""
import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from cgan_lib.artifacts import atomic_write_text
from cgan_lib.device import get_device, machine_info, machine_tag
from cgan_lib.models import make_classifier
from cgan_lib.profiles import get_profile


def ms_per_step(stride: int, p, c: int, size: int, repeat: int, dev) -> float:
    torch.manual_seed(0)
    m = make_classifier(p.arch, 10, c, [0.5] * c, [0.25] * c, p.width, image_size=size,
                        stem_stride=stride).to(dev).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    x = torch.rand(p.batch_size, c, size, size, device=dev).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (p.batch_size,), device=dev)

    def step():
        loss = F.cross_entropy(m(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(repeat):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return 1000 * (time.perf_counter() - t) / repeat


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default="ci")
    ap.add_argument("--repeat", type=int, default=20)
    a = ap.parse_args()
    p, dev = get_profile(a.profile), get_device()
    c, size = (1, 28) if p.dataset == "fashion-mnist" else (3, 32)
    ms = {s: ms_per_step(s, p, c, size, a.repeat, dev) for s in (1, 2)}
    out = {**machine_info(dev), "written": time.strftime("%Y-%m-%d %H:%M:%S"),
           "profile": p.name, "arch": p.arch, "width": p.width, "batch": p.batch_size,
           "image": [c, size, size], "repeat": a.repeat,
           "stem_stride_ms": {"1": round(ms[1], 1), "2": round(ms[2], 1)},
           "stem_stride_speedup": round(ms[1] / ms[2], 2)}
    path = Path(__file__).parent / "results" / f"stem_stride-{p.name}-{machine_tag(dev)}.json"
    atomic_write_text(json.dumps(out, indent=1) + "\n", path)
    print(f"stride 1: {ms[1]:.0f} ms a step, stride 2: {ms[2]:.0f} ms ({ms[1] / ms[2]:.2f}x); wrote {path}")


if __name__ == "__main__":
    main()
