"""Throughput of the pieces that dominate a run (not a test: prints numbers).

    python benchmarks/throughput.py [--profile ci]

Reports victim training images/s, one ConfounderGAN epoch's images/s, and the protect
forward pass, on this machine's device. Goals: the `ci` profile's chapters within 15
minutes on 2 CPU cores; compare with the `status` page after a book run.
"""
import argparse
import time

import torch


from cgan_lib.device import device_name, get_device
from cgan_lib.models import Discriminator, Generator, make_classifier
from cgan_lib.profiles import epsilon_for, get_profile


def rate(fn, n_images, repeat=5):
    fn()
    t = time.time()
    for _ in range(repeat):
        fn()
    return n_images * repeat / (time.time() - t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default="ci")
    args = ap.parse_args()
    p = get_profile(args.profile)
    dev = get_device()
    c, s = (1, 28) if p.dataset == "fashion-mnist" else (3, 32)
    x = torch.rand(p.batch_size, c, s, s, device=dev)
    y = torch.randint(0, 10, (p.batch_size,), device=dev)
    m = make_classifier(p.arch, 10, c, [0.5] * c, [0.25] * c, p.width, image_size=s,
                        stem_stride=p.stem_stride).to(dev)
    m = m.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)

    def step():
        loss = torch.nn.functional.cross_entropy(m(x.contiguous(memory_format=torch.channels_last)), y)
        opt.zero_grad(); loss.backward(); opt.step()

    G = Generator(c, epsilon_for(p.dataset), p.gen_width).to(dev)
    D = Discriminator(c, p.gen_width).to(dev)

    def gan_step():
        n = G(x)
        (D(x).mean() + D((x + n).clamp(0, 1)).mean() + m(n).logsumexp(1).mean()).backward()

    with torch.no_grad():
        prot = rate(lambda: G(x), p.batch_size)
    print(f"{p.summary(device=device_name(dev))}")
    print(f"victim training: {rate(step, p.batch_size):8.0f} images/s")
    print(f"GAN step (G, D, f): {rate(gan_step, p.batch_size):8.0f} images/s")
    print(f"protect (G forward): {prot:8.0f} images/s")


if __name__ == "__main__":
    main()
