"""The one path every experiment takes, as load-or-compute steps.

    dataset -> profile -> classifier f -> generator G -> protected data -> victim h -> records

A notebook makes one :class:`Experiment` and calls its steps; every step is cached under
a key of everything that determines it, so a re-run (or a later chapter) costs nothing
and a changed setting never reuses a stale result.
"""
from __future__ import annotations

import time

import torch

from . import baselines
from .artifacts import Results, cached_tensors
from .data import ImageData, load_profile_data, split_indices
from .device import device_name, get_device
from .gan import protect_tensor, train_confoundergan
from .profiles import epsilon_for, get_profile
from .victim import pretrained_classifier, tensor_digest, victim_result

METHODS = ("natural", "cwp", "cwn", "emn", "confoundergan")
METHOD_LABELS = {"natural": "Natural", "cwp": "Class-wise patches", "cwn": "Class-wise noise",
                 "emn": "EMN", "confoundergan": "ConfounderGAN (ours)"}


class Experiment:
    """Profile, data, device and results of one notebook."""

    def __init__(self, notebook: str, profile=None, dataset: str | None = None,
                 data_root: str | None = None, seed: int = 0, progress: bool = True):
        self.profile = get_profile(profile)
        self.dataset = dataset or self.profile.dataset
        self.seed, self.progress = seed, progress
        self.device = get_device()
        self.device_name = device_name(self.device)
        self.data: ImageData = load_profile_data(self.profile, self.dataset, data_root, seed)
        self.eps = epsilon_for(self.data.name)
        self.results = Results(notebook, self.profile.name, self.device_name)
        self._timers: dict = {}

    def summary(self) -> str:
        return self.profile.summary(self.data.name, self.device_name)

    # -- the steps ------------------------------------------------------------------
    def classifier(self, arch: str | None = None):
        """The frozen classifier f trained on the clean training set, and its test accuracy."""
        return pretrained_classifier(self.data, self.profile, arch, self.seed, self.progress)

    def generator(self, idx: torch.Tensor | None = None, **overrides):
        """ConfounderGAN's G trained (Algorithm 1) on the training images ``idx`` (default all)."""
        data = self.data if idx is None else self._subset(idx)
        f, _ = self.classifier()
        return train_confoundergan(data, f, self.profile, self.seed, self.eps,
                                   progress=self.progress, **overrides)

    def _subset(self, idx):
        from dataclasses import replace
        return replace(self.data, train_x=self.data.train_x[idx], train_y=self.data.train_y[idx])

    def protect(self, method: str, idx: torch.Tensor | None = None, generator=None,
                **overrides) -> torch.Tensor:
        """Protected copies (uint8) of the training images ``idx`` by ``method``."""
        x = self.data.train_x if idx is None else self.data.train_x[idx]
        y = self.data.train_y if idx is None else self.data.train_y[idx]
        k = self.data.n_classes
        if method == "natural":
            return x.clone()
        if method == "cwp":
            return baselines.class_wise_patches(x, y, k)
        if method == "cwn":
            return baselines.class_wise_noise(x, y, k, self.eps, self.seed)
        if method == "emn":
            return self.emn(idx)[0]
        if method == "confoundergan":
            G = generator if generator is not None else self.generator(idx, **overrides)[0]
            return protect_tensor(G, x)
        raise ValueError(f"Unknown method {method!r}. Known: {', '.join(METHODS)}.")

    def emn(self, idx: torch.Tensor | None = None):
        """Error-minimizing noise on the training images ``idx``; ``(protected, info)``."""
        p = self.profile
        x = self.data.train_x if idx is None else self.data.train_x[idx]
        y = self.data.train_y if idx is None else self.data.train_y[idx]
        params = dict(data=tensor_digest(x, y), eps=self.eps, arch=p.arch, width=p.width,
                      steps=p.emn_steps, step_size=p.emn_step_size, train_steps=p.emn_train_steps,
                      stop_error=p.emn_stop_error, max_rounds=p.emn_max_rounds,
                      batch_size=p.batch_size, seed=self.seed)

        def run():
            prot, info = baselines.error_minimizing_noise(
                x, y, self.data.n_classes, self.eps, p.arch, p.width, p.emn_steps,
                p.emn_step_size, p.emn_train_steps, p.emn_stop_error, p.emn_max_rounds,
                batch_size=p.batch_size, seed=self.seed, progress=self.progress)
            return {"x": prot, "rounds": torch.tensor(info["rounds"]),
                    "errors": torch.tensor(info["errors"]), "stopped": torch.tensor(info["stopped"]),
                    "seconds": torch.tensor(info["seconds"])}

        st = cached_tensors("emn", params, run)
        info = dict(rounds=int(st["rounds"]), errors=st["errors"].tolist(),
                    final_error=float(st["errors"][-1]), stopped=bool(st["stopped"]),
                    seconds=float(st["seconds"]))
        return st["x"], info

    def victim(self, train_x: torch.Tensor, train_y: torch.Tensor | None = None,
               aug: str = "none", arch: str | None = None, desc: str = "victim") -> dict:
        """Train a fresh victim h on ``train_x`` (cached) and return its history."""
        p = self.profile
        y = self.data.train_y if train_y is None else train_y
        return victim_result(train_x, y, self.data.test_x, self.data.test_y, self.data.n_classes,
                             arch or p.arch, p.width, p.victim_epochs, p.victim_lr, p.batch_size,
                             aug, self.seed, self.progress, desc)

    def split(self, p: float):
        """Indices of a ``p`` fraction of the training set and of the rest (Section 5.2)."""
        return split_indices(len(self.data.train_x), p, self.seed)

    def record(self, experiment, method, setting, value, metric="test_acc", paper_value=None,
               seconds=None, arch=None, **extra):
        return self.results.add(experiment, self.data.name, arch or self.arch_label, method,
                                setting, metric, value, paper_value, seconds, **extra)

    def record_victim(self, experiment, method, setting, hist: dict, paper_value=None,
                      metric="test_acc", **extra):
        """Record a victim's final (or, with ``metric="best_test_acc"``, best-epoch) clean
        test accuracy, labelled with the device and time of the run that produced it
        (which may be an earlier, cached run on another machine)."""
        value = hist["final_test_acc"] if metric == "test_acc" else hist[metric]
        return self.record(experiment, method, setting, value, metric=metric,
                           paper_value=paper_value, seconds=hist.get("seconds"),
                           device=hist.get("device"), **extra)

    @property
    def arch_label(self) -> str:
        p = self.profile
        return p.arch if p.width == 1.0 else f"{p.arch}x{p.width:g}"

    def save(self):
        return self.results.save()
