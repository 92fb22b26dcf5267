"""One registry of protections: the data owner's side, one small class per method.

Every method has the same life: ``fit`` on the owner's data (images and labels), then
``protect`` uint8 images (labels only where the method needs them: ConfounderGAN needs
none at protect time, and protects images it never saw). ``info`` says what fitting
produced. Settings are declared dataclasses, from which the cache keys come, and fitting
is cached, so calling a protection twice costs nothing.

    prot = make("confoundergan", owner, seed=0).fit(x_in, y_in)
    x_out_protected = prot.protect(x_out)

Adding a method is one class with ``@register`` and its test.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from . import baselines
from .artifacts import cached_path, cached_tensors
from .device import precision_key
from .gan import GANSettings, protect_tensor, train_confoundergan
from .models import freeze
from .victim import TrainSettings, tensor_digest, trained_classifier

PROTECTIONS: dict[str, type] = {}


def register(cls):
    PROTECTIONS[cls.name] = cls
    return cls


@dataclass
class Owner:
    """What a data owner knows besides the images they protect: the profile's sizes, the
    budget, the label set, and a clean test set (used only to *report* f's accuracy)."""
    profile: object
    eps: float
    n_classes: int
    dataset: str
    classes: tuple
    test_x: torch.Tensor
    test_y: torch.Tensor
    progress: bool = True


def owner_classifier(owner: Owner, x_u8: torch.Tensor, y: torch.Tensor, seed: int):
    """The owner's classifier f, trained on ``(x_u8, y)`` only (cached): ``(model, test_acc)``."""
    fs = TrainSettings.classifier(owner.profile, min(x_u8.shape[-2:]), seed=seed)
    model, acc = trained_classifier(x_u8, y, owner.test_x, owner.test_y, owner.n_classes, fs,
                                    owner.progress)
    return model, acc, fs


class Protection:
    name = ""
    label = ""
    needs_labels = True          # at protect time
    sample_wise = False          # protects only the images it was fitted on

    def __init__(self, owner: Owner, seed: int = 0, **overrides):
        self.owner, self.seed, self.overrides = owner, seed, overrides
        self.info: dict = {}
        self._fitted = False
        self._digest = None

    def fit(self, x_u8: torch.Tensor, y: torch.Tensor) -> "Protection":
        self._fit(x_u8, y)
        self._digest = tensor_digest(x_u8, y) if self.sample_wise else None
        self._fitted = True
        return self

    def protect(self, x_u8: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if not self._fitted:
            raise RuntimeError(f"{self.name}: call fit(owner's images, labels) before protect.")
        if self.needs_labels and y is None:
            raise ValueError(f"{self.label} needs the labels of the images it protects.")
        if self.sample_wise and tensor_digest(x_u8, y) != self._digest:
            raise ValueError(f"{self.label} is sample-wise: it protects only the images it was "
                             f"fitted on. Fit it on these images.")
        out = self._protect(x_u8, y)
        assert out.dtype == torch.uint8 and out.shape == x_u8.shape
        return out

    def _fit(self, x_u8, y):
        pass

    def _protect(self, x_u8, y):
        raise NotImplementedError


@register
class Natural(Protection):
    name, label, needs_labels = "natural", "Natural", False

    def _protect(self, x_u8, y):
        return x_u8.clone()


@register
class ClassWisePatches(Protection):
    name, label = "cwp", "Class-wise patches"

    def _protect(self, x_u8, y):
        return baselines.class_wise_patches(x_u8, y, self.owner.n_classes)


@register
class ClassWiseNoise(Protection):
    name, label = "cwn", "Class-wise noise"

    def _protect(self, x_u8, y):
        return baselines.class_wise_noise(x_u8, y, self.owner.n_classes, self.owner.eps, self.seed)


@register
class ErrorMinimizingNoise(Protection):
    """Sample-wise EMN (Huang et al. 2021): the noise is optimised for the fitted images."""
    name, label, sample_wise = "emn", "EMN", True

    def _fit(self, x_u8, y):
        o = self.owner
        s = baselines.EMNSettings.from_profile(o.profile, o.eps, self.seed, **self.overrides)

        params = dict(data=tensor_digest(x_u8, y), **s.key(), **precision_key())
        # a round-by-round checkpoint beside the cached result: a stopped run resumes
        rounds = cached_path("emn", params, suffix=".rounds.pt")

        def run():
            prot, info = baselines.error_minimizing_noise(x_u8, y, o.n_classes, s, o.progress,
                                                          checkpoint=rounds)
            return {"x": prot, "rounds": torch.tensor(info["rounds"]),
                    "errors": torch.tensor(info["errors"]),
                    "stopped": torch.tensor(info["stopped"]),
                    "seconds": torch.tensor(info["seconds"])}

        st = cached_tensors("emn", params, run)
        self._x = st["x"]
        self.info = dict(rounds=int(st["rounds"]), errors=st["errors"].tolist(),
                         final_error=float(st["errors"][-1]), stopped=bool(st["stopped"]),
                         seconds=float(st["seconds"]), settings=s)

    def _protect(self, x_u8, y):
        return self._x.clone()


@register
class ConfounderGAN(Protection):
    """The paper's method: f trained on the owner's data, then G by Algorithm 1; protects
    any image with one forward pass (in or out of the fitted distribution)."""
    name, label, needs_labels = "confoundergan", "ConfounderGAN (ours)", False

    def _fit(self, x_u8, y):
        from .data import ImageData
        o = self.owner
        data = ImageData(o.dataset, list(o.classes), x_u8, y, o.test_x, o.test_y)
        self.f, f_acc, fs = owner_classifier(o, x_u8, y, self.seed)
        self.G, hist = train_confoundergan(data, self.f, o.profile, self.seed, o.eps,
                                           progress=o.progress, **self.overrides)
        self.info = dict(f_test_acc=f_acc, history=hist, f_settings=fs,
                         settings=GANSettings.from_profile(o.profile, data, o.eps, **self.overrides))

    def _protect(self, x_u8, y):
        return protect_tensor(self.G, x_u8)


class _Hardened(Protection):
    """Chapter 9's generators (:mod:`cgan_lib.hardened`), fitted on the owner's data."""
    variant = ""
    budget = "hinge"     # ConfounderGAN's bounds; "linf": the L-inf bound alone (EMN's)

    def _fit(self, x_u8, y):
        from .hardened import HardenedSettings, TextureGenerator, train_hardened
        o = self.owner
        s = HardenedSettings.from_profile(o.profile, self.variant, o.eps, tuple(x_u8.shape[1:]),
                                          o.dataset, budget=self.budget, **self.overrides)
        f_aug = "flip+crop" if s.variant == "eot" else "none"
        fs = TrainSettings.classifier(o.profile, min(x_u8.shape[-2:]), seed=self.seed, aug=f_aug)
        f, f_acc = trained_classifier(x_u8, y, o.test_x, o.test_y, o.n_classes, fs, o.progress,
                                      desc=f"classifier f ({f_aug})")

        def run():
            G, hist = train_hardened(x_u8, y, o.n_classes, s, f, self.seed, o.progress)
            return {"state": {k: v.cpu() for k, v in G.state_dict().items()
                              if not k.startswith("classifier.")},
                    "history": [dict(h) for h in hist]}
        params = dict(data=tensor_digest(x_u8, y), f=tensor_digest(
            *[p.detach().cpu() for p in f.state_dict().values()]), seed=self.seed, **asdict(s))
        st = cached_tensors("hardened", params, run)
        if s.variant == "eot":
            from .models import Generator
            G = Generator(x_u8.shape[1], s.eps, s.gen_width)
            G.c = s.c
        else:
            G = TextureGenerator(o.n_classes, x_u8.shape[1], s.eps, s.c, s.tile,
                                 f if self.variant == "texture" else None, s.temperature)
        G.load_state_dict(st["state"], strict=False)
        from .device import get_device
        self.G = freeze(G, get_device())
        self.info = dict(f_test_acc=f_acc, f_settings=fs, history=st["history"], settings=s)

    def _protect(self, x_u8, y):
        from .hardened import protect_hardened
        return protect_hardened(self.G, x_u8, y if self.needs_labels else None)


@register
class HardenedEOT(_Hardened):
    name, label, needs_labels, variant = "hardened-eot", "Hardened: EOT (crop + flip)", False, "eot"


@register
class HardenedTextureLabel(_Hardened):
    name, label, variant = "hardened-texture-label", "Hardened: class texture (labels)", "texture-label"


@register
class HardenedTextureLabelLinf(_Hardened):
    """The label-conditioned texture held to the L-inf bound alone, the budget of EMN and
    class-wise noise, not ConfounderGAN's L2 bound c (its L2 may reach twice c)."""
    name, label, variant, budget = ("hardened-texture-label-linf",
                                    "Hardened: class texture (labels, L-inf only)",
                                    "texture-label", "linf")


@register
class HardenedTexture(_Hardened):
    name, label, needs_labels, variant = ("hardened-texture", "Hardened: class texture (f reads x)",
                                          False, "texture")


def make(method: str, owner: Owner, seed: int = 0, **overrides) -> Protection:
    """The protection ``method`` (a name in :data:`PROTECTIONS`), unfitted."""
    if method not in PROTECTIONS:
        raise ValueError(f"Unknown protection {method!r}. Known: {', '.join(PROTECTIONS)}.")
    return PROTECTIONS[method](owner, seed, **overrides)


LABELS = {k: v.label for k, v in PROTECTIONS.items()}
