"""Experiment profiles: every size and constant an experiment uses, in one declarative place.

Three profiles exist:

* ``paper`` -- the paper's Appendix G settings (full datasets, ResNet18, 90 victim
               epochs, GAN epochs per dataset from G.3, SGD momentum 0.9, lr 0.025,
               alpha 0.001, f classifying G(x) as eq. 3 writes it). Needs a GPU.
* ``quick`` -- a 20,000-image CIFAR-10 subset, sized so that a natural victim learns
               (``benchmarks/quick_sizing.py``); hours a chapter on a CPU.
* ``ci``    -- every chapter within minutes on 2 CPU cores, on a balanced subset of
               Fashion-MNIST, with a narrow ResNet18 whose stem has stride 2: each
               chapter's mechanics and checks, with effects smaller than ``quick``'s.

A reduced profile lists only its overrides of ``paper`` (like nanoGPT's configs), and its
departures from the paper are *computed* by comparing its fields with ``paper``'s
(:func:`departures`), never written by hand.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

DEFAULT_PROFILE_ENV = "CGAN_PROFILE"

# Section 5.1: "the maximum perturbation is set to 8/255 in SVHN and CIFAR10, and 16/255
# in other datasets".
_EPS_8 = {"svhn", "cifar10"}

# Appendix G.3: "the training epoch is 200(SVHN,CIFAR10,Keratitis)/5000(ImageNet25)/
# 100(BloodMNIST)/400(ISIC)".
PAPER_GAN_EPOCHS = {"svhn": 200, "cifar10": 200, "keratitis": 200, "imagenet25": 5000,
                    "bloodmnist": 100, "isic": 400}

# Images at least this large get torchvision's ImageNet stem (7x7 stride-2 conv and
# max-pool); smaller ones the CIFAR stem (3x3, no max-pool; stride 1, or the profile's
# stem_stride).
LARGE_IMAGE = 64


def epsilon_for(dataset: str) -> float:
    """L-infinity budget of the paper for ``dataset`` (8/255 SVHN/CIFAR-10, else 16/255)."""
    return (8 if dataset in _EPS_8 else 16) / 255.0


def dataset_key(dataset: str) -> str:
    """``folder:/data/ImageNet25`` -> ``imagenet25``: the name the paper's tables use."""
    name = dataset.split(":", 1)[1] if dataset.startswith("folder:") else dataset
    return os.path.basename(os.path.normpath(name)).lower()


class UnknownProfileError(ValueError):
    pass


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    dataset: str = "cifar10"          # default dataset of the chapters
    n_train: int | None = None        # balanced training subset (None: full set)
    n_test: int | None = None         # balanced test subset (None: full set)
    seeds: tuple = (0, 1, 2)          # each seed fixes f, G, EMN, the victim and data order
    # fewer seeds for the costliest chapters of a reduced profile: (("03", (0, 1)), ...)
    chapter_seeds: tuple = ()
    arch: str = "resnet18"            # classifier f, EMN source and victim h
    width: float = 1.0                # width multiplier of the classifiers (1.0 = standard)
    stem_stride: int = 1              # stride of the classifiers' first convolution on small
                                      # images: 1 is the CIFAR stem of CIFAR work
    batch_size: int = 128             # not stated by the paper; 128 as in Huang et al.
    # victim h (Appendix G.5): SGD, momentum 0.9, lr 0.025, cosine, 90 epochs
    victim_epochs: int = 90
    victim_lr: float = 0.025
    weight_decay: float = 5e-4        # not stated by the paper; Huang et al.'s value
    val_fraction: float = 0.1         # the trainer's validation hold-out (early stopping)
    # classifier f of ConfounderGAN: "pretrained on their training set" (G.3) with the
    # victim recipe; for ImageNet-sized data torchvision's ImageNet weights ("downloaded
    # directly from the Pytorch official website")
    classifier_epochs: int = 90
    imagenet_weights_for_large: bool = True
    # ConfounderGAN (Appendix G.3); gan_epochs None: PAPER_GAN_EPOCHS of the dataset
    gan_epochs: int | None = None
    gan_optimizer: str = "sgd"        # "sgd": the paper's; "adam": what works on small budgets
    gan_lr: float = 0.025
    d_lr: float = 0.025
    alpha: float = 0.001              # weight of the hinge loss
    hinge_fraction: float = 0.5       # c = hinge_fraction * eps * sqrt(C*H*W); c unstated
    # weight of D's term in G's loss: 1.0 is eq. 5; 0.0 is Algorithm 1 as printed, where
    # G descends only confounder + alpha * hinge (the paper states both)
    adv_weight: float = 1.0
    gen_width: int = 32               # channels of G's first layer (unstated)
    f_input: str = "raw"              # f classifies "raw" G(x) (eq. 3) or the "effective"
                                      # noise clamp(x+G(x))-x a victim receives
    # EMN (Appendix G.4, Huang et al. 2021)
    emn_steps: int = 20
    emn_step_size: float = 0.003      # G.4: inner "learning rate is 0.003" (~0.8/255)
    emn_train_steps: int = 10
    emn_lr: float = 0.003             # G.4: outer "learning rate is 0.003" (Huang et al.: 0.1)
    emn_stop_error: float = 0.01
    emn_max_rounds: int = 20          # unstated; a cap on the bi-level loop
    # data mixes of Section 5.2 (Figure 5)
    mix_ps: tuple = (0.5, 0.6, 0.7, 0.8, 0.9)
    # the trainer's augmentations of Table 2 (Appendix G.6)
    augs: tuple = ("none", "flip", "crop", "flip+crop", "cutout", "mixup", "cutmix", "fa")
    # PGD steps of an adversarially trained victim (a countermeasure, chapter 08; Madry
    # et al. train CIFAR-10 models with 7-10 steps)
    at_steps: int = 10
    # the countermeasures of chapter 08 (cgan_lib.countermeasures), each with crop + flip
    countermeasures: tuple = ("none", "grayscale", "jpeg-10", "bdr-2", "dncnn", "at-8",
                              "at-4")
    # the protections of chapter 08's grid (natural first: each verdict compares with it)
    cm_methods: tuple = ("natural", "cwn", "emn", "confoundergan")
    # transferability (Section 5.3.1, Table 1): noise made with ResNet18, victims of these
    # architectures, on these datasets (ImageNet25 is a folder the user passes in addition)
    transfer_archs: tuple = ("vgg11", "resnet18", "resnet50", "densenet121")
    transfer_datasets: tuple = ("svhn", "cifar10", "bloodmnist")
    # the attacker's denoiser of Appendix D: DnCNN (Zhang et al. 2017: 17 layers of 64
    # channels, Adam at 1e-3, 50 epochs, lr / 10 after 30)
    dncnn_depth: int = 17
    dncnn_channels: int = 64
    dncnn_epochs: int = 50
    dncnn_lr: float = 1e-3
    # chapter 9's hardened generators (beyond the paper): epochs of their training (None:
    # the GAN's epochs); a texture epoch costs a small fraction of a GAN epoch
    hardened_epochs: int | None = None
    # the trainers of chapter 9's victims (crop + flip, the one its goals name, is required)
    hardened_augs: tuple = ("none", "flip+crop")

    def __post_init__(self):
        if not self.cm_methods or self.cm_methods[0] != "natural":
            raise ValueError(f"profile {self.name!r}: cm_methods must start with 'natural' (chapter "
                             f"8 compares every protection with it), got {self.cm_methods!r}")
        if "flip+crop" not in self.hardened_augs:
            raise ValueError(f"profile {self.name!r}: hardened_augs must include 'flip+crop' "
                             f"(chapter 9's goals are stated for it), got {self.hardened_augs!r}")

    def seeds_for(self, notebook: str) -> tuple:
        """The seeds a chapter runs: ``chapter_seeds`` where it names the chapter's number
        (the notebook name's prefix), else ``seeds``."""
        for prefix, seeds in self.chapter_seeds:
            if str(notebook).startswith(prefix):
                return tuple(seeds)
        return self.seeds

    def gan_epochs_for(self, dataset: str) -> int:
        if self.gan_epochs is not None:
            return self.gan_epochs
        return PAPER_GAN_EPOCHS.get(dataset_key(dataset), 200)

    @property
    def departures(self) -> tuple:
        return departures(self)

    def summary(self, dataset: str | None = None, device: str | None = None,
                seeds=None) -> str:
        ds = dataset or self.dataset
        n_tr = "full" if self.n_train is None else f"{self.n_train:,}"
        n_te = "full" if self.n_test is None else f"{self.n_test:,}"
        w = "" if self.width == 1.0 else f" x{self.width:g} width"
        w += "" if self.stem_stride == 1 else f", stem stride {self.stem_stride}"
        s = (f"profile={self.name} | dataset={ds} (train {n_tr}, test {n_te}) | "
             f"{self.arch}{w} | victim {self.victim_epochs} ep | GAN {self.gan_epochs_for(ds)} ep "
             f"({self.gan_optimizer}) | eps={round(epsilon_for(ds) * 255)}/255 | "
             f"seeds {', '.join(map(str, self.seeds if seeds is None else seeds))}")
        if device:
            s += f" | device={device}"
        return s

    def replace(self, **kw) -> "Profile":
        return dataclasses.replace(self, **kw)


PAPER = Profile(name="paper",
                description="The paper's Appendix G settings (full data, ResNet18, 90 victim "
                            "epochs, GAN epochs per dataset, SGD). Needs a GPU.")

# The reduced profiles list only what differs from the paper.
PROFILES: dict[str, Profile] = {
    "ci": PAPER.replace(
        name="ci",
        description="CI on 2 CPU cores: balanced Fashion-MNIST subset, quarter-width "
                    "ResNet18 with a stride-2 stem, few epochs, Adam for the generator, two seeds.",
        dataset="fashion-mnist", n_train=2000, n_test=1000, seeds=(0, 1),
        width=0.25, batch_size=64,
        # stem stride 2: every block of f, EMN's source model and the victims runs at half
        # the resolution (14x14 for 28x28 images, then 7, 4, 2). A training step is 2.7x
        # faster on a 2-core AVX2 CPU (92 against 246 ms for 64 images); the CIFAR stem's
        # ci run took 55 minutes of notebooks there and ran past the CI's 90-minute cap on
        # a slower one. quick and paper keep stride 1: a stride-2 quick victim learned too
        # little (benchmarks/quick_sizing.py on that CPU, seed 0: 60.4% with 10 epochs, 62.5%
        # with 20, against the 65% bar). The price is ConfounderGAN's effect: 7.2 points below
        # natural instead of 18.6, and a stride-1 f for G with stride-2 victims does not
        # bring it back (4.1 points; scripts/stem_probe.py, seeds 0 and 1).
        stem_stride=2,
        # 4 epochs: on a 2-core CPU without native bf16 (AVX2 only) a victim costs about 4x
        # what it costs with AMX, and CI must fit in 90 minutes there too. Measured on such a
        # CPU with the CIFAR stem (stride 1; seeds 0, 1): 4 epochs keep chapter 1's effects on both seeds (class-wise patch
        # 60.5/53.0% vs natural 80.1/80.0%) in 0.73x the time of 6; 1,000 images, width
        # 0.125, or batch 32 for 3 epochs were cheaper but lost the patch effect on a seed.
        victim_epochs=4, classifier_epochs=4,
        gan_epochs=6, gan_optimizer="adam", gan_lr=1e-3, d_lr=1e-3, adv_weight=0.0,
        gen_width=16, f_input="effective",
        # EMN: 5 inner steps of 3.2/255 (the same total movement as 10 of 1.6/255) halve its
        # cost, which dominated chapters 2 and 3. Measured here (stride 1; seeds 0, 1; victims 4 epochs):
        # no augmentation 67.7/58.0% (10 steps: 68.4/56.5%), crop + flip 71.1/48.3% (66.9/
        # 45.3%), natural 80.1/80.0% and 69.2/72.3%; 81-121 s a seed against 198-200 s
        emn_steps=5, emn_step_size=3.2 / 255, emn_lr=0.1, emn_max_rounds=10,
        # smaller grids than quick and paper, which run them whole: one mix proportion (the
        # p of Figure 4c/d), one trainer beyond crop + flip (the paper's FA), single-step
        # adversarial training (PGD from a random start, one step: "fast AT", Wong et al.
        # 2020), Table 1 with VGG11 (ResNet50 and DenseNet121 cost 3-6x a ResNet18 victim
        # on a CPU; quick has ResNet50, paper all four)
        mix_ps=(0.9,), augs=("none", "flip+crop", "fa"),
        transfer_datasets=("fashion-mnist",), at_steps=1,
        transfer_archs=("vgg11", "resnet18"),
        countermeasures=("none", "grayscale", "jpeg-10", "bdr-2", "dncnn", "at-8"),
        # chapter 08 without class-wise noise (its own chapter is 01; paper runs it under
        # every countermeasure) and chapter 09's victims with crop + flip only, as quick: 24
        # victims fewer (16 trainings; 8 were cache hits of chapters 1 and 2), so that CI fits
        # its budget on a slow 2-core CPU
        cm_methods=("natural", "emn", "confoundergan"), hardened_augs=("flip+crop",),
        dncnn_depth=6, dncnn_channels=32, dncnn_epochs=15, hardened_epochs=10),
    # quick's size: the smallest CIFAR-10 subset we measured whose natural victim reaches
    # 65% without augmentation (benchmarks/quick_sizing.py: 3,000 images 46%, 10,000 59%,
    # 10,000 at half width 64.5% in 1.6x the time of 20,000, 20,000 71%; seed 0)
    "quick": PAPER.replace(
        name="quick",
        description="A CPU in hours, a GPU in minutes: balanced 20,000-image CIFAR-10 "
                    "subset, quarter-width ResNet18, 10 victim epochs, seeds 0-2 "
                    "(0-1 in the chapters that train the most).",
        dataset="cifar10", n_train=20000, n_test=2000,
        width=0.25, batch_size=64,
        victim_epochs=10, classifier_epochs=10,
        gan_epochs=5, gan_optimizer="adam", gan_lr=1e-3, d_lr=1e-3, adv_weight=0.0,
        gen_width=32, f_input="effective",
        emn_steps=10, emn_step_size=1.6 / 255, emn_lr=0.1, emn_max_rounds=6,
        # chapter 03: one proportion, the p of Figure 4(c, d), as in ci. Each p fits its own f,
        # G and EMN on its protected part (no leaks): with p = 50% and 90% that is four fits
        # and 22 victims for two seeds, over 2 hours cold on 2 cores; one p is two fits and 14
        # victims, about chapter 05's size (73 min cold on a 2-core Xeon with AMX). paper
        # runs all five p of Figure 5
        mix_ps=(0.9,), transfer_datasets=("cifar10",),
        # DnCNN convolves at full resolution: 10 layers of 48 channels for 20 epochs took
        # over 11 minutes a seed on 10,000 CIFAR-10 images here, so quick keeps it small
        dncnn_depth=8, dncnn_channels=32, dncnn_epochs=10, hardened_epochs=10,
        # each chapter within about 2 hours on 2 CPU cores (estimates from one victim's
        # 151 s): the mixes, the transfer victims, the trainer grid and the grids beyond the
        # paper (chapters 08, 09) run two seeds, and DenseNet121 (about 6x a ResNet18 victim
        # on a CPU) is left to a GPU; chapter 06 (f, G, EMN, CWN and three snapshot victims
        # a seed: 5,333 s for two seeds, cold cache, on a 2-core Xeon with AMX) runs two too
        # chapter 02 (21 artifacts: f, G, EMN, class-wise noise and the victims) took 6,993 s
        # cold for two seeds on a 2-core AMD EPYC with AVX512-BF16: a third seed would not fit
        chapter_seeds=(("02", (0, 1)), ("03", (0, 1)), ("04", (0, 1)), ("05", (0, 1)), ("06", (0, 1)),
                       ("08", (0, 1)), ("09", (0, 1))),
        # chapters 08 and 09 at this size, each within one 3-hour session from a cold cache
        # (the cache does not outlive a session here) on a 2-core CPU, where a victim costs
        # about 4 minutes and f, G and EMN about 30 minutes a seed: chapter 08 runs natural,
        # EMN and ConfounderGAN (class-wise noise runs in paper) under crop + flip
        # alone, grayscale and JPEG-10, the published table's cheap columns: 18 victims;
        # adversarial training (2-11 victims' cost each), bit depth and the blind denoiser
        # run in ci and paper. Chapter 09 trains its victims with crop + flip only (its goals
        # are stated for it): seven protections (the label-conditioned texture twice,
        # under ConfounderGAN's budget and under the L-inf bound alone) x two seeds, plus the
        # label-conditioned texture and natural under grayscale and JPEG-10: 22 victims
        countermeasures=("none", "grayscale", "jpeg-10"), at_steps=1,
        cm_methods=("natural", "emn", "confoundergan"), hardened_augs=("flip+crop",),
        transfer_archs=("vgg11", "resnet18", "resnet50"),
        # chapter 05: two trainers of Table 2 that chapter 02 does not already run (no
        # augmentation and crop + flip are chapter 02's): MixUp (mixes images and labels) and
        # FA (the fixed policy of chapter 05): 4 methods x 2 trainers x 2 seeds = 16 victims plus
        # f, G and EMN for two seeds, so that a cold cache fits one 3-hour session on a
        # 2-core CPU (four trainers, 32 victims, were about 2 hours with f, G and EMN already
        # cached); CutOut and CutMix run in paper
        augs=("mixup", "fa")),
    "paper": PAPER,
}

# How each field reads in a departure line; fields not listed are not departures
# (names, descriptions, and settings of experiments the paper does not run: at_steps,
# countermeasures).
_FIELD_TEXT = {
    "dataset": "default dataset", "n_train": "training images", "n_test": "test images",
    "arch": "architecture", "width": "width multiplier",
    "stem_stride": "stride of the classifiers' first convolution",
    "batch_size": "batch size", "victim_epochs": "victim epochs", "victim_lr": "victim lr",
    "weight_decay": "weight decay", "val_fraction": "validation hold-out",
    "classifier_epochs": "epochs of the classifier f",
    "imagenet_weights_for_large": "ImageNet weights for f on large images",
    "gan_epochs": "GAN epochs", "gan_optimizer": "GAN optimiser", "gan_lr": "G's lr",
    "d_lr": "D's lr", "alpha": "hinge weight alpha", "hinge_fraction": "hinge bound c (fraction of the L2 ball)",
    "adv_weight": "weight of D's term in G's loss (1 = eq. 5, 0 = Algorithm 1)",
    "gen_width": "G/D width", "f_input": "what f classifies", "emn_steps": "EMN inner steps",
    "emn_step_size": "EMN inner step size", "emn_train_steps": "EMN outer steps",
    "emn_lr": "EMN outer lr", "emn_stop_error": "EMN stop error",
    "emn_max_rounds": "EMN max rounds", "mix_ps": "mix proportions p",
    "augs": "trainer augmentations (Table 2)",
    "chapter_seeds": "seeds of the costliest chapters",
    "transfer_archs": "victim architectures (Table 1)",
    "transfer_datasets": "datasets of Table 1 that load without a user's folder (the paper's "
                         "also has ImageNet25, Keratitis, ISIC: pass them as extra_datasets)",
    "dncnn_depth": "DnCNN layers", "dncnn_channels": "DnCNN channels",
    "dncnn_epochs": "DnCNN epochs", "dncnn_lr": "DnCNN lr",
}


def _fmt(name, v):
    if v is None:
        return {"gan_epochs": "per dataset (G.3)", "n_train": "full", "n_test": "full"}.get(name, "none")
    if isinstance(v, float) and name in ("emn_step_size",):
        return f"{v * 255:.2g}/255"
    if isinstance(v, tuple) and v and isinstance(v[0], tuple):
        return "; ".join(f"chapter {k}: {', '.join(map(str, s))}" for k, s in v)
    if isinstance(v, tuple):
        return ", ".join(map(str, v)) if v else "all: the profile's seeds"
    return f"{v:g}" if isinstance(v, float) else str(v)


# Fields of the paper profile whose value the paper does not state: a departure names where
# the full-scale value comes from instead of putting words in the paper's mouth.
_UNSTATED = {
    "dataset": "CIFAR-10, the paper's main benchmark",
    "stem_stride": "the CIFAR stem of CIFAR work",
    "batch_size": "Huang et al.'s",
    "weight_decay": "Huang et al.'s",
    "val_fraction": "the paper trains without a hold-out",
    "classifier_epochs": "the victim recipe; G.3 says only that f is pretrained",
    "hinge_fraction": "c is not stated",
    "gen_width": "",
    "emn_max_rounds": "a cap on the bi-level loop",
    "chapter_seeds": "",
    "dncnn_depth": "Zhang et al.'s DnCNN, which Appendix D follows",
    "dncnn_channels": "Zhang et al.'s DnCNN, which Appendix D follows",
    "dncnn_epochs": "Zhang et al.'s DnCNN, which Appendix D follows",
    "dncnn_lr": "Zhang et al.'s DnCNN, which Appendix D follows",
}


def departures(profile: Profile) -> tuple:
    """Every field where ``profile`` differs from ``paper``, as 'what: ours (paper: theirs)',
    or, where the paper states no value, 'what: ours (paper: not stated; full scale: ...)'."""
    out = []
    for f in dataclasses.fields(Profile):
        if f.name not in _FIELD_TEXT:
            continue
        mine, theirs = getattr(profile, f.name), getattr(PAPER, f.name)
        if mine != theirs:
            if f.name in _UNSTATED:
                why = _UNSTATED[f.name]
                ref = f"paper: not stated; full scale: {_fmt(f.name, theirs)}{', ' + why if why else ''}"
            else:
                ref = f"paper: {_fmt(f.name, theirs)}"
            out.append(f"{_FIELD_TEXT[f.name]}: {_fmt(f.name, mine)} ({ref})")
    return tuple(out)


def get_profile(name: str | Profile | None = None) -> Profile:
    """Return the named profile (default: ``$CGAN_PROFILE``, else ``ci``)."""
    if isinstance(name, Profile):
        return name
    if name is None or name == "":
        name = os.environ.get(DEFAULT_PROFILE_ENV) or "ci"
    key = str(name).strip().lower()
    if key not in PROFILES:
        raise UnknownProfileError(
            f"Unknown profile {name!r}. Valid profiles: {', '.join(PROFILES)}. "
            f"Set it with profile=... or the {DEFAULT_PROFILE_ENV} environment variable.")
    return PROFILES[key]
