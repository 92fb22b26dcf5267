"""The paper as data: its numbers, keyed by table or figure, and its claims, with margins.

Notebooks never type a paper value or a margin: they look values up here
(:func:`paper_value`) and check claims with :func:`check` (through
``Experiment.claim``), which returns the status and the sentence the book prints.

A claim compares two measured quantities ``a`` and ``b`` over the same seeds (or ``b``
a constant): it says ``a < b - margin``. A negative margin turns it into "``a`` is at
most ``|margin|`` above ``b``" (e.g. "the protected part adds no more than 5 points").

Status, from the per-seed differences ``d_i = b_i - a_i - margin``:

* **holds**: every seed has ``d_i > 0`` and their mean exceeds their spread (sample std);
* **does not hold**: every seed has ``d_i < 0`` and ``-mean`` exceeds the spread;
* **undecided at this scale**: anything else, including a single seed (no spread).
"""
from __future__ import annotations

from dataclasses import dataclass

from .artifacts import spread

HOLDS, FAILS, UNDECIDED, NOT_MEASURED = ("holds", "does not hold", "undecided at this scale",
                                         "not yet measured")


@dataclass(frozen=True)
class PaperValue:
    ref: str          # "table2", "fig2", "table4", ... (the experiment key of our records)
    dataset: str      # the paper's dataset
    arch: str         # the victim's architecture in the paper
    method: str
    setting: str
    value: float      # accuracy as a fraction
    source: str       # where in the paper


def _t(ref, dataset, arch, method, setting, pct, source):
    return PaperValue(ref, dataset, arch, method, setting, round(pct / 100, 4), source)


_AUGS = ("No augmentation", "RHF", "RC", "RHF+RC", "CutOut", "MixUp", "CutMix", "FA")

VALUES: tuple[PaperValue, ...] = (
    # Figure 2(d): class-wise patches on ImageNet25, ResNet18 (text of Section 4.2)
    _t("fig2", "imagenet25", "resnet18", "natural", "No augmentation", 70.9, "Figure 2(d)"),
    _t("fig2", "imagenet25", "resnet18", "cwp", "No augmentation", 35.4, "Figure 2(d)"),
    # Table 2: CIFAR-10, ResNet18, 100% protected; ours legible for the first four columns
    *[_t("table2", "cifar10", "resnet18", "emn", a, v, "Table 2")
      for a, v in zip(_AUGS, (17.4, 17.9, 18.0, 18.3, 18.2, 25.7, 18.6, 38.4))],
    *[_t("table2", "cifar10", "resnet18", "confoundergan", a, v, "Table 2")
      for a, v in zip(_AUGS[:4], (11.2, 11.9, 14.8, 14.9))],
    # Table 1: transferability (noise made with ResNet18); natural / EMN / ours
    *[_t("table1", ds, arch, m, "No augmentation", v, "Table 1")
      for ds, rows in {
          "svhn": {"vgg11": (95.0, 32.6, 25.4), "resnet50": (95.9, 10.6, 10.1),
                   "densenet121": (96.3, 10.9, 8.9)},
          "cifar10": {"vgg11": (86.2, 19.1, 16.9), "resnet50": (91.5, 17.9, 11.3),
                      "densenet121": (92.6, 18.6, 13.4)},
          "imagenet25": {"vgg11": (62.6, 34.0, 26.5), "resnet50": (73.6, 12.3, 8.4),
                         "densenet121": (80.0, 11.3, 9.5)}}.items()
      for arch, vals in rows.items()
      for m, v in zip(("natural", "emn", "confoundergan"), vals)],
    # Table 3 (Appendix D): the denoiser attack on CIFAR-10
    _t("table3", "cifar10", "resnet18", "natural", "No augmentation", 87.4, "Table 3"),
    _t("table3", "cifar10", "resnet18", "denoised", "No augmentation", 77.9, "Table 3"),
    _t("table3", "cifar10", "resnet18", "confoundergan", "No augmentation", 11.9, "Table 3"),
    # Table 4 (Appendix E): polyline 5 of Figure 5 (ours in + out of distribution), CIFAR-10
    *[_t("fig5", "cifar10", "resnet18", "confoundergan", f"polyline 5, p={p}%", v, "Table 4")
      for p, v in ((50, 60.2), (60, 56.1), (70, 41.9), (80, 32.0), (90, 28.0))],
    *[_t("fig5", "cifar10", "resnet18", "deepconfuse", f"polyline 5, p={p}%", v, "Table 4")
      for p, v in ((50, 71.3), (60, 61.6), (70, 50.2), (80, 45.8), (90, 36.3))],
)


def paper_value(ref: str, method: str, setting: str, dataset: str | None = None,
                arch: str = "resnet18") -> PaperValue | None:
    """The paper's number for (ref, method, setting), on ``dataset`` if given (else the only
    dataset the paper reports it for); None where the paper gives none."""
    hits = [v for v in VALUES if v.ref == ref and v.method == method and v.setting == setting
            and v.arch == arch and (dataset is None or v.dataset == dataset)]
    if len(hits) > 1:
        raise ValueError(f"{ref}/{method}/{setting} exists for several datasets: name one")
    return hits[0] if hits else None


def rows(ref: str) -> list[dict]:
    """The paper's numbers of one table or figure as rows (accuracy in %), with the source."""
    return [{"dataset": v.dataset, "arch": v.arch, "method": v.method, "setting": v.setting,
             "test_acc": 100 * v.value, "source": v.source} for v in VALUES if v.ref == ref]


def closest_value(ref: str, method: str, setting: str, dataset: str,
                  arch: str = "resnet18") -> PaperValue | None:
    """The paper's number for (ref, method, setting, arch) on ``dataset`` where the paper
    reports that dataset, else on CIFAR-10 (its main benchmark), else the only one; the
    returned value names its dataset, so a record never passes it off as ours."""
    from .profiles import dataset_key
    hits = [v for v in VALUES if v.ref == ref and v.method == method and v.setting == setting
            and v.arch == arch]
    for want in (dataset_key(dataset), "cifar10"):
        same = [v for v in hits if v.dataset == want]
        if same:
            return same[0]
    return hits[0] if len(hits) == 1 else None


@dataclass(frozen=True)
class Claim:
    name: str
    ref: str          # where the paper makes it
    statement: str    # what the paper says, in a sentence
    a: str            # the lower quantity
    b: str            # the higher quantity (or a constant)
    margin: float     # a < b - margin (fractions of accuracy)

    @property
    def need(self) -> str:
        """How far below ``b`` the claim's words put ``a``: "at least 20 points below",
        "below" (any amount) or "at most 5 points above"."""
        m = self.margin
        return (f"at least {100 * m:.0f} points below" if m > 0 else
                "below" if m == 0 else f"at most {-100 * m:.0f} points above")


CLAIMS: dict[str, Claim] = {c.name: c for c in (
    Claim("fig2.cwp_below_natural", "Figure 2(d)",
          "A victim trained on class-wise patched data scores far below a natural one.",
          "class-wise patches", "natural", 0.10),
    Claim("sec4.2.cwn_below_natural", "Section 4.2",
          "Class-wise noise lowers the victim's final clean accuracy.",
          "class-wise noise", "natural", 0.10),
    Claim("sec4.2.cwn_early_stopping_evades", "Section 4.2 (after Huang et al.)",
          "Early stopping evades class-wise noise: the epoch picked on validation beats the last.",
          "class-wise noise, last epoch", "class-wise noise, early stopping", 0.05),
    Claim("table2.ours_below_natural", "Table 2 / Figure 4(a, b)",
          "Training on 100% ConfounderGAN data leaves the victim far below natural training.",
          "ConfounderGAN", "natural", 0.20),
    Claim("table2.ours_below_emn", "Table 2",
          "ConfounderGAN protects better than EMN (lower victim accuracy).",
          "ConfounderGAN", "EMN", 0.0),
    Claim("table2.ours_below_natural_rhf_rc", "Table 2 (RHF+RC)",
          "The protection survives random crop + flip (victim far below natural).",
          "ConfounderGAN, RHF+RC", "natural, RHF+RC", 0.20),
    Claim("table2.ours_below_emn_rhf_rc", "Table 2 (RHF+RC)",
          "ConfounderGAN protects better than EMN under random crop + flip.",
          "ConfounderGAN, RHF+RC", "EMN, RHF+RC", 0.0),
    Claim("appC.early_stopping_fails_on_ours", "Appendix C, Figure 9",
          "Early stopping cannot circumvent ConfounderGAN: the epoch picked on validation "
          "stays far below natural training.",
          "ConfounderGAN, early stopping", "natural", 0.20),
    Claim("fig5.mix_adds_little", "Section 5.2, Figure 5",
          "In a mix, the protected part adds little: polyline 4 is close to polyline 2 "
          "(at most 5 points above).",
          "p ours + (1-p) natural", "(1-p) natural only", -0.05),
    Claim("fig5.ood_below_in_mix", "Section 5.2, Figure 5, Table 4",
          "Out-of-distribution protection: protecting the (1-p) part with the generator "
          "trained on the p part lowers accuracy below the mix with natural data.",
          "p ours (in) + (1-p) ours (out)", "p ours + (1-p) natural", 0.0),
    Claim("appA.car_above_90", "Appendix A, Figure 7",
          "The victim is more confident on protected than on original images for over 90% "
          "of the training set (Confidence Ascent Ratio above 90%).",
          "90%", "CAR", 0.0),
    Claim("appA.gcr_below_2", "Appendix A, Figure 7",
          "Protected images give the last layer under 2% of the gradient of the original ones "
          "(Gradient Compression Ratio below 2%).",
          "GCR", "2%", 0.0),
    Claim("table1.ours_transfers", "Table 1, Section 5.3.1",
          "The noise transfers: a victim of another architecture trained on ConfounderGAN data "
          "(made with a ResNet18) stays far below natural training.",
          "ConfounderGAN", "natural", 0.20),
    Claim("table1.ours_below_emn", "Table 1, Section 5.3.1",
          "ConfounderGAN's noise transfers better than EMN's on every architecture (lower "
          "victim accuracy).",
          "ConfounderGAN", "EMN", 0.0),
    Claim("appD.denoised_below_natural", "Appendix D, Table 3",
          "Against an attacker who trains a denoiser with the released generator, the "
          "protection keeps part of its effect: the denoised data trains a worse model than "
          "the natural data (paper: 77.9% vs 87.4%).",
          "denoised", "natural", 0.05),
    Claim("appD.denoiser_recovers", "Appendix D, Table 3",
          "The denoiser resists the protection to a certain extent: denoised data trains a "
          "better model than the protected data (paper: 77.9% vs 11.9%).",
          "protected", "denoised", 0.0),
    Claim("fig4cd.protected_part_alone_low", "Figure 4(c, d)",
          "The protected 90% alone teaches little: far below 100% natural.",
          "90% ours only", "100% natural", 0.20),
    # Beyond the paper: the goals of chapter 9 (the project's, not the paper's claims)
    Claim("goal.hardened_far_below_natural_rhf_rc", "Chapter 9 goal (beyond the paper)",
          "A hardened generator holds against the usual trainer: with random crop + flip, "
          "its victim is at least 30 points below the natural one.",
          "hardened", "natural", 0.30),
    Claim("goal.hardened_below_emn_rhf_rc", "Chapter 9 goal (beyond the paper)",
          "With random crop + flip, a hardened generator's victim is below EMN's.",
          "hardened", "EMN", 0.0),
)}


@dataclass
class ClaimResult:
    claim: Claim
    status: str
    a_mean: float
    a_std: float
    b_mean: float
    b_std: float
    diff_mean: float      # mean over seeds of b - a
    diff_std: float
    n: int
    context: str = ""
    a_const: bool = False     # a side given as a constant (a bound), not measured
    b_const: bool = False

    @property
    def sentence(self) -> str:
        c = self.claim
        from .artifacts import pct
        a = f"the bound {pct(self.a_mean)}%" if self.a_const else \
            f"{c.a} {pct(self.a_mean)} ± {pct(self.a_std)}%"
        b = f"the bound {pct(self.b_mean)}%" if self.b_const else \
            f"{c.b} {pct(self.b_mean)} ± {pct(self.b_std)}%"
        need = c.need
        seeds = f"{self.n} seed{'s' if self.n != 1 else ''}"
        return (f"**{c.ref}** - {c.statement} **{self.status.capitalize()}** here"
                f"{' (' + self.context + ')' if self.context else ''}: {a} vs {b}; the claim needs {c.a} "
                f"{need} {c.b}; difference ({c.b} minus {c.a}) {pct(self.diff_mean)} ± "
                f"{pct(self.diff_std)} points over {seeds}.")


def verdict(d) -> str:
    """The status of per-seed differences ``d`` (already net of the claim's margin): holds
    when every seed is above 0 and the mean is beyond the std, fails in the mirror case,
    and is undecided otherwise, and always with fewer than two seeds."""
    d = [float(x) for x in d]
    if len(d) < 2:
        return UNDECIDED
    dm, ds = spread(d)
    if all(x > 0 for x in d) and dm > ds:
        return HOLDS
    if all(x < 0 for x in d) and -dm > ds:
        return FAILS
    return UNDECIDED


def check(name: str, a, b, context: str = "") -> ClaimResult:
    """Check claim ``name`` on per-seed values ``a`` and ``b`` (lists over the same seeds,
    or one of them a constant)."""
    if name not in CLAIMS:
        raise KeyError(f"Unknown claim {name!r}. Known: {', '.join(CLAIMS)}")
    c = CLAIMS[name]
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        raise ValueError(f"claim {name}: at least one side must be per-seed values")
    a_const, b_const = isinstance(a, (int, float)), isinstance(b, (int, float))
    n = len(b) if a_const else len(a)
    a = [float(a)] * n if isinstance(a, (int, float)) else [float(v) for v in a]
    b = [float(b)] * n if isinstance(b, (int, float)) else [float(v) for v in b]
    if len(a) != len(b) or not a:
        raise ValueError(f"claim {name}: a and b need one value per seed each ({len(a)} vs {len(b)})")
    d = [bi - ai - c.margin for ai, bi in zip(a, b)]
    status = verdict(d)
    am, asd = spread(a)
    bm, bsd = spread(b)
    raw_m, raw_s = spread([bi - ai for ai, bi in zip(a, b)])
    return ClaimResult(c, status, am, asd, bm, bsd, raw_m, raw_s, len(d), context, a_const, b_const)
