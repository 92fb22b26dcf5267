"""The one path every experiment takes, as load-or-compute steps, over the profile's seeds.

    dataset -> profile -> the owner's protection (f, G, EMN ... fitted on the owner's
    data only) -> protected data -> victim h per seed -> records with mean, spread, seeds

A notebook makes one :class:`Experiment` and calls its steps; every step is cached under
a key of everything that determines it, so a re-run (or a later chapter) costs nothing
and a changed setting never reuses a stale result. A seed fixes the owner's artifacts
(f, G, EMN's source model, CWN's patterns), the victim's initialisation, its validation
hold-out and its data order; the data subset and the mixes' splits are the same for all
seeds.
"""
from __future__ import annotations

from typing import Callable

import torch

from . import paper
from .artifacts import Results
from .data import ImageData, load_profile_data, split_indices
from .device import device_name, get_device
from .profiles import epsilon_for, get_profile
from .protections import LABELS, PROTECTIONS, Owner, Protection, make, owner_classifier
from .victim import TrainSettings, tensor_digest, victim_result

METHODS = tuple(PROTECTIONS)
METHOD_LABELS = LABELS
METRICS = {"test_acc": "final_test_acc", "early_stop_test_acc": "early_stop_test_acc"}


def _seed_tuple(seeds) -> tuple:
    """``seeds`` as a tuple of ints: an int, or a list/tuple of ints. Anything else (a
    string such as ``"[0, 1]"`` from a command line that passed the list as text) is an
    error that names the fix, not a loop over its characters."""
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        return (seeds,)
    if isinstance(seeds, (list, tuple)) and all(isinstance(s, int) and not isinstance(s, bool)
                                                for s in seeds):
        return tuple(seeds)
    raise ValueError(f"seeds={seeds!r}: give an int or a list of ints, e.g. seeds=[0, 1] "
                     f"(with papermill: -y 'seeds: [0, 1]', not -p seeds '[0, 1]').")


class Experiment:
    """Profile, data, device, seeds and results of one notebook."""

    def __init__(self, notebook: str, profile=None, dataset: str | None = None,
                 data_root: str | None = None, seeds=None, progress: bool = True,
                 results: Results | None = None):
        self.profile = get_profile(profile)
        self.dataset = dataset or self.profile.dataset
        self.seeds = _seed_tuple(self.profile.seeds_for(notebook) if seeds is None else seeds)
        if not self.seeds:
            raise ValueError("An experiment needs at least one seed.")
        self.progress = progress
        self.device = get_device()
        self.device_name = device_name(self.device)
        self.data: ImageData = load_profile_data(self.profile, self.dataset, data_root)
        self.eps = epsilon_for(self.data.name)
        self.owner = Owner(self.profile, self.eps, self.data.n_classes, self.data.name,
                           tuple(self.data.classes), self.data.test_x, self.data.test_y,
                           progress)
        # several experiments of one notebook (one per dataset) share its results file
        self.results = results or Results(notebook, self.profile.name, self.device_name)
        self._fitted: dict = {}

    def summary(self) -> str:
        return self.profile.summary(self.data.name, self.device_name, self.seeds)

    @property
    def seed0(self) -> int:
        return self.seeds[0]

    # -- the owner's side ------------------------------------------------------------
    def _owner_data(self, idx):
        if idx is None:
            return self.data.train_x, self.data.train_y
        return self.data.train_x[idx], self.data.train_y[idx]

    def protection(self, method: str, seed: int | None = None, idx: torch.Tensor | None = None,
                   **overrides) -> Protection:
        """``method`` fitted on the owner's images ``idx`` (default: the whole training set)
        alone, with ``seed``; cached on disk and in memory."""
        seed = self.seed0 if seed is None else seed
        key = (method, seed, None if idx is None else tensor_digest(idx),
               tuple(sorted(overrides.items())))
        if key not in self._fitted:
            x, y = self._owner_data(idx)
            self._fitted[key] = make(method, self.owner, seed, **overrides).fit(x, y)
        return self._fitted[key]

    def protect(self, method: str, seed: int | None = None, idx: torch.Tensor | None = None,
                target: torch.Tensor | None = None, **overrides) -> torch.Tensor:
        """Protected copies (uint8) of the training images ``target`` (default: ``idx``, the
        images the owner fitted the method on) by ``method`` fitted on ``idx``."""
        prot = self.protection(method, seed, idx, **overrides)
        x, y = self._owner_data(idx if target is None else target)
        return prot.protect(x, y)

    def classifier(self, seed: int | None = None, idx: torch.Tensor | None = None):
        """The owner's classifier f (trained on the images ``idx`` only) and its clean test
        accuracy: the same cached model ConfounderGAN's fit uses."""
        x, y = self._owner_data(idx)
        model, acc, _ = owner_classifier(self.owner, x, y, self.seed0 if seed is None else seed)
        return model, acc

    def generator(self, seed: int | None = None, idx: torch.Tensor | None = None, **overrides):
        """ConfounderGAN's ``(G, history)``, fitted on the images ``idx`` only."""
        p = self.protection("confoundergan", seed, idx, **overrides)
        return p.G, p.info["history"]

    def split(self, p: float):
        """Indices of a ``p`` fraction of the training set and of the rest (Section 5.2)."""
        return split_indices(len(self.data.train_x), p, 0)

    # -- the trainer's side ------------------------------------------------------------
    def victim(self, train_x: torch.Tensor, train_y: torch.Tensor | None = None,
               aug: str = "none", arch: str | None = None, seed: int | None = None,
               desc: str = "victim", countermeasure: str = "none", curves: bool = True) -> dict:
        """Train a fresh victim h on ``train_x`` (cached) and return its history. The
        trainer first applies ``countermeasure`` (:mod:`cgan_lib.countermeasures`) to
        its training images, or trains adversarially (``at-E``). ``curves=False``: the
        clean test set is run only where a reported number needs it (no per-epoch
        curve; the same numbers, a fifth less time for deep victims on a CPU)."""
        from . import countermeasures
        y = self.data.train_y if train_y is None else train_y
        seed = self.seed0 if seed is None else seed
        data_cm, adv = countermeasures.split(countermeasure)
        if data_cm != "none":
            train_x = self.countermeasure(data_cm, train_x, seed)
        s = TrainSettings.victim(self.profile, aug=aug, arch=arch or self.profile.arch,
                                 seed=seed,
                                 **({"adv_eps": adv} if adv else {}))
        return victim_result(train_x, y, self.data.test_x, self.data.test_y,
                             self.data.n_classes, s, self.progress, desc, curves=curves)

    def countermeasure(self, name: str, train_x: torch.Tensor, seed: int | None = None):
        """``train_x`` after the data countermeasure ``name``. ``dncnn`` is the blind
        denoiser of :func:`cgan_lib.denoiser.blind_denoiser` (seeded by ``seed``), trained
        on half as many photo patches as there are training images, at their size, with
        Gaussian noise up to the dataset's budget (the trainer knows the usual budgets)."""
        from . import countermeasures
        dn = self.blind_denoiser(seed) if name == "dncnn" else None
        return countermeasures.apply(name, train_x, denoiser=dn)

    def blind_denoiser(self, seed: int | None = None):
        """The trainer's blind DnCNN for this dataset and seed (cached)."""
        from .denoiser import DenoiserSettings, blind_denoiser
        seed = self.seed0 if seed is None else seed
        s = DenoiserSettings.from_profile(self.profile, seed=seed)
        d = self.data
        return blind_denoiser(max(2, len(d.train_x) // 2), d.image_size, d.channels, self.eps,
                              s, self.progress, desc=f"blind DnCNN (seed {seed})")[0]

    def victims(self, make_data: Callable[[int], object], aug: str = "none",
                arch: str | None = None, desc: str = "victim", seeds=None,
                countermeasure: str = "none", curves: bool = True) -> dict:
        """One victim per seed: ``make_data(seed)`` returns the training images (or
        ``(images, labels)``) of that seed. Returns ``{seed: history}``."""
        out = {}
        for s in (self.seeds if seeds is None else seeds):
            d = make_data(s)
            x, y = d if isinstance(d, tuple) else (d, None)
            out[s] = self.victim(x, y, aug=aug, arch=arch, seed=s, desc=f"{desc} (seed {s})",
                                 countermeasure=countermeasure, curves=curves)
        return out

    def denoiser_attack(self, seed: int | None = None) -> dict:
        """Appendix D for one seed. The training set is split in two halves: the owner fits
        ConfounderGAN on theirs and releases G; the attacker protects their own half with G,
        trains a DnCNN from protected to natural on it, and denoises the owner's protected
        half. Returns the owner's half three ways (``natural``, ``protected``, ``denoised``),
        its labels ``y``, the denoiser's history and the PSNR (dB, mean over the owner's
        half) of protected and denoised images against the originals."""
        from .denoiser import DenoiserSettings, denoise, train_denoiser
        from .metrics import mean_psnr
        seed = self.seed0 if seed is None else seed
        own, att = self.split(0.5)
        G = self.protection("confoundergan", seed, own)          # fitted on the owner's half only
        x_own, y_own = self._owner_data(own)
        x_att = self.data.train_x[att]
        s = DenoiserSettings.from_profile(self.profile, seed=seed)
        dn, hist = train_denoiser(G.protect(x_att), x_att, s, self.progress,
                                  desc=f"DnCNN (seed {seed})")
        prot = G.protect(x_own)
        den = denoise(dn, prot)
        return {"natural": x_own, "protected": prot, "denoised": den, "y": y_own,
                "history": hist, "psnr_protected": mean_psnr(prot, x_own),
                "psnr_denoised": mean_psnr(den, x_own), "n_owner": len(own), "n_attacker": len(att)}

    def checkpoint_epochs(self, seed: int, k: int = 3) -> list:
        """``k`` epochs drawn at random (seeded) from the victim's training: where Appendix A
        takes its checkpoints ("randomly selected during the training phase")."""
        e = self.profile.victim_epochs
        g = torch.Generator().manual_seed(20_220 + seed)
        return sorted((torch.randperm(e, generator=g)[:min(k, e)] + 1).tolist())

    def snapshots(self, train_x: torch.Tensor, seed: int, epochs, train_y=None,
                  desc: str = "victim (checkpoints)"):
        """A victim trained on ``train_x`` (profile recipe, ``seed``), with its weights kept
        after each of ``epochs``; ``(history, {epoch: model})``."""
        from .gradients import snapshots
        y = self.data.train_y if train_y is None else train_y
        s = TrainSettings.victim(self.profile, seed=seed)
        return snapshots(train_x, y, self.data.test_x, self.data.test_y, self.data.n_classes, s,
                         epochs, self.progress, desc)

    # -- records and claims ------------------------------------------------------------
    @staticmethod
    def values(hists: dict, metric: str = "test_acc") -> list:
        """Per-seed values of ``metric`` (``test_acc``: final; ``early_stop_test_acc``: at
        the epoch picked on validation) from ``{seed: history}``."""
        return [h[METRICS[metric]] for h in hists.values()]

    def record(self, experiment, method, setting, value=None, metric="test_acc", arch=None,
               paper_method=None, paper_arch="resnet18", **extra):
        """Record a number (or, with ``values`` and ``seeds``, a multi-seed result). The
        paper's value, where it gives one, is looked up in :mod:`cgan_lib.paper`: on our
        dataset where the paper has it, else on its CIFAR-10 (the record names which)."""
        pv = paper.closest_value(experiment, paper_method or method, setting, self.data.name,
                                 paper_arch) if metric in METRICS else None
        if pv is not None:
            extra.update(paper_dataset=pv.dataset, paper_arch=pv.arch, paper_source=pv.source)
        return self.results.add(experiment, self.data.name, arch or self.arch_label(), method,
                                setting, metric, value, pv.value if pv else None, **extra)

    def record_seeds(self, experiment, method, setting, hists: dict, metric="test_acc",
                     **extra):
        """Record a multi-seed victim result: per-seed values, mean, std, seeds, the device
        and total time of the runs that produced them (maybe earlier, cached runs)."""
        h0 = next(iter(hists.values()))
        if metric == "early_stop_test_acc":
            extra.update(selected_by="validation",
                         early_stop_epochs=[h["early_stop_epoch"] for h in hists.values()])
        return self.record(experiment, method, setting, metric=metric,
                           values=self.values(hists, metric), seeds=list(hists),
                           seconds=sum(h["seconds"] for h in hists.values()),
                           device=h0.get("device"), n_train=h0.get("n_train"),
                           epochs=h0["settings"]["epochs"],
                           arch=self.arch_label(h0["settings"]["arch"]), **extra)

    def claim(self, name: str, a, b, context: str = "") -> paper.ClaimResult:
        """Check one of the paper's claims on per-seed values; record its status."""
        r = paper.check(name, a, b, context)
        self.results.add("claims", self.data.name, self.arch_label(), name, context or "",
                         "claim_difference", r.diff_mean, std=r.diff_std, n_seeds=r.n,
                         status=r.status, ref=r.claim.ref, statement=r.claim.statement,
                         margin=r.claim.margin, a=r.a_mean, b=r.b_mean, seeds=list(self.seeds))
        return r

    def arch_label(self, arch: str | None = None) -> str:
        """``resnet18``, ``resnet18x0.25`` (width multiplier), ``resnet18x0.25-s2`` (and a
        stem of stride 2, where the CIFAR stem is used): what a record says trained it, so
        that runs of models that differ are never compared as the same."""
        from .profiles import LARGE_IMAGE
        p = self.profile
        arch = arch or p.arch
        label = arch if p.width == 1.0 else f"{arch}x{p.width:g}"
        if p.stem_stride != 1 and min(self.data.image_size) < LARGE_IMAGE:   # as new_classifier
            label += f"-s{p.stem_stride}"
        return label

    def save(self):
        return self.results.save()
