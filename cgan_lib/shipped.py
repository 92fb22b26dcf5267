"""The generator the project ships, so that ``protect`` works right after installation.

:func:`build` trains it the way a chapter would (through :class:`Experiment`, so it is the
same cached G as chapter 2's of that profile and seed), exports G alone, measures what it
does (victims trained on the protected training set against natural ones, with and without
crop + flip, over several victim seeds; PSNR and SSIM), and writes the measurements and a
model card next to the weights. Nothing in the card is typed by hand: it is rendered from
the measurements file.
"""
from __future__ import annotations

import json
import platform
import time
from pathlib import Path

from .artifacts import atomic_write_text, spread

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
# the departures from the paper that matter for the generator and its measurement
RELEVANT = ("training images", "test images", "width", "batch size", "victim epochs",
            "epochs of the classifier", "GAN", "G's lr", "D's lr", "weight of D's term",
            "what f classifies", "hinge")
NAME = "confoundergan-cifar10"


class ShippedGeneratorMissing(FileNotFoundError):
    pass


def shipped_path(directory: str | Path | None = None) -> Path:
    """The shipped generator's checkpoint; a clear error where it is missing."""
    p = Path(directory or WEIGHTS_DIR) / f"{NAME}.pt"
    if not p.is_file():
        raise ShippedGeneratorMissing(
            f"The shipped generator {p} is missing (a source checkout without the weights, or "
            f"a partial install). Reinstall cgan-lib, pass --generator PATH to a checkpoint you "
            f"trained (python -m cgan_lib train --out G.pt), or rebuild it with "
            f"python -m cgan_lib ship.")
    return p


def card_data(directory: str | Path | None = None) -> dict:
    """The measurements written by :func:`build` (profile, seeds, accuracies, PSNR...)."""
    return json.loads((Path(directory or WEIGHTS_DIR) / f"{NAME}.json").read_text())


def build(profile: str = "quick", seed: int = 0, victim_seeds=(0, 1), data_root=None,
          out_dir: str | Path | None = None, progress: bool = True) -> dict:
    """Train (or take from the cache) the profile's ConfounderGAN on CIFAR-10 with ``seed``,
    export G to ``out_dir``, measure it and write ``NAME.json`` and ``README.md`` there."""
    import torch

    from .experiment import Experiment
    from .gan import save_generator
    from .metrics import imperceptibility

    out_dir = Path(out_dir or WEIGHTS_DIR)
    t0 = time.time()
    exp = Experiment("shipped", profile, "cifar10", data_root, seeds=tuple(victim_seeds),
                     progress=progress)
    d = exp.data
    G, hist = exp.generator(seed)
    f_acc = exp.protection("confoundergan", seed).info["f_test_acc"]
    prot = exp.protect("confoundergan", seed=seed)
    victims, victim_seconds = {}, 0.0
    for aug in ("none", "flip+crop"):
        for name, x in (("natural", d.train_x), ("protected", prot)):
            hs = exp.victims(lambda s: x, aug=aug, curves=False, desc=f"{name}/{aug}")
            victims[f"{name}, {aug}"] = {str(s): round(h["final_test_acc"], 4) for s, h in hs.items()}
            victim_seconds += sum(h["seconds"] for h in hs.values())
    imp = imperceptibility(prot, d.train_x)
    meta = dict(G.meta, profile=exp.profile.name, seed=seed, trained_on=f"{d.name} training "
                f"subset of {len(d.train_x):,} images", f_test_acc=round(f_acc, 4))
    save_generator(G.cpu(), out_dir / f"{NAME}.pt", meta, hist)
    summary = [part for part in exp.profile.summary(d.name).split(" | ")
               if not part.startswith(("profile=", "seeds"))]
    data = {
        "name": NAME, "profile": exp.profile.name, "profile_summary": " | ".join(summary),
        "departures": [x for x in exp.profile.departures if x.startswith(RELEVANT)],
        "generator_seed": seed,
        "victim_seeds": list(victim_seeds), "dataset": d.name, "n_train": len(d.train_x),
        "n_test": len(d.test_x), "image_size": list(d.train_x.shape[-2:]),
        "eps_255": round(exp.eps * 255), "gan_epochs": len(hist),
        "noise_acc": round(hist[-1]["noise_acc"], 4), "f_test_acc": round(f_acc, 4),
        "victim_test_acc": victims, "psnr_db": round(imp["psnr_db"], 2),
        "ssim": round(imp["ssim"], 4), "device": exp.device_name,
        "machine": platform.machine(), "torch": torch.__version__,
        "written": time.strftime("%Y-%m-%d"), "seconds": round(time.time() - t0, 1),
        "gan_seconds": round(sum(h["seconds"] for h in hist), 1),
        "victim_seconds": round(victim_seconds, 1),
        "size_bytes": (out_dir / f"{NAME}.pt").stat().st_size,
    }
    atomic_write_text(json.dumps(data, indent=1) + "\n", out_dir / f"{NAME}.json")
    atomic_write_text(model_card(data), out_dir / "README.md")
    return data


def _cell(vals: dict) -> str:
    m, sd = spread(100 * x for x in vals.values())
    return f"{m:.1f} ± {sd:.1f} ({len(vals)})"


def departure_lines(d: dict) -> list[str]:
    """The card's departures from the paper, worded as the profile words them now where
    they name the same settings with the same values as when the generator was built (only
    the wording of the paper's side changes), else as stored."""
    from .profiles import UnknownProfileError, get_profile
    try:
        now = [x for x in get_profile(d["profile"]).departures if x.startswith(RELEVANT)]
    except UnknownProfileError:
        return list(d["departures"])
    head = lambda x: x.split(" (paper: ")[0]
    return now if [head(x) for x in now] == [head(x) for x in d["departures"]] else list(d["departures"])


def write_card(directory: str | Path | None = None) -> Path:
    """Render the model card again from the measurements file (no training)."""
    out = Path(directory or WEIGHTS_DIR) / "README.md"
    atomic_write_text(model_card(card_data(directory)), out)
    return out


def model_card(d: dict) -> str:
    """The model card, rendered from the measurements of :func:`build`."""
    acc = d["victim_test_acc"]
    rows = "\n".join(f"| {aug} | {_cell(acc[f'natural, {aug}'])} | {_cell(acc[f'protected, {aug}'])} |"
                     for aug in ("none", "flip+crop"))
    deps = "\n".join(f"  - {x}" for x in departure_lines(d))
    mean = lambda v: 100 * sum(v.values()) / len(v)
    gaps = "; ".join(f"{aug}: {mean(acc[f'natural, {aug}']) - mean(acc[f'protected, {aug}']):.1f} "
                     f"points" for aug in ("none", "flip+crop"))
    return f"""# Model card: `{d['name']}.pt`

A ConfounderGAN generator G (Tian et al., NeurIPS 2022) trained by this project, shipped so
that `python -m cgan_lib protect IN OUT` works right after installation. It adds
`G(x)`, bounded by {d['eps_255']}/255 in L-infinity, to an image in one forward pass, without
labels. This card is written by `python -m cgan_lib ship` from `{d['name']}.json`; no number
in it is typed by hand.

## How it was trained

- Profile `{d['profile']}`: {d['profile_summary']}.
- Data: {d['dataset']}, a balanced subset of {d['n_train']:,} training images at
  {d['image_size'][0]}x{d['image_size'][1]} pixels; the classifier f was trained on the same
  images ({100 * d['f_test_acc']:.1f}% clean test accuracy on {d['n_test']:,} test images).
- Generator seed {d['generator_seed']}, {d['gan_epochs']} epochs; at the end f reads the
  class from the noise alone for {100 * d['noise_acc']:.1f}% of the training images.
- Device: {d['device']}, torch {d['torch']}; training G took {d['gan_seconds']:.0f} s and the
  {2 * len(d['victim_seeds']) * 2} victims of the table below {d['victim_seconds']:.0f} s;
  written {d['written']}.
- Where the profile departs from the paper's recipe (Appendix G):
{deps}

## What it does (measured)

Clean test accuracy (%) of a fresh victim (the profile's ResNet18 recipe) trained on the
{d['n_train']:,} training images, natural or protected by this G; mean ± std (victim seeds
{', '.join(map(str, d['victim_seeds']))}):

| trainer's augmentation | natural | protected |
|---|---|---|
{rows}

The drop it causes (natural minus protected, mean over the victim seeds): {gaps}.
Imperceptibility on the training images: PSNR {d['psnr_db']:.1f} dB, SSIM {d['ssim']:.3f}.

## Limits

- The effect above was measured on {d['image_size'][0]}-pixel CIFAR-10 images, with victims of
  the `{d['profile']}` profile's size. On larger photos G runs as a convolution at the photo's
  own resolution; its noise there has never been tested against a victim (chapter 10 shows
  what it looks like and how far it is from the original).
- A trainer who augments with random crop and flip, as every public training script does, is
  the case that matters: compare the two rows above. Chapter 8 measures further
  countermeasures (JPEG, bit-depth reduction, adversarial training), and chapter 7 a denoiser.
- A generator trained on CIFAR-10's ten classes carries no guarantee for other content.
- This is the paper's method at a reduced scale. Chapter 9's hardened generators, which aim
  at the crop + flip trainer, are not shipped until they are measured at this profile's
  scale.
"""
