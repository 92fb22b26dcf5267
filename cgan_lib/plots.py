"""Figures of the chapters (matplotlib + seaborn) and the ipywidgets image browser."""
from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch

from .artifacts import num1
from .data import to_float

sns.set_theme(style="whitegrid", context="notebook")


def _img(t: torch.Tensor):
    a = t.detach().cpu().float()
    if a.max() > 1.0:
        a = a / 255.0
    a = a.permute(1, 2, 0).numpy()
    return a[..., 0] if a.shape[-1] == 1 else a


def rescale_noise(noise: torch.Tensor) -> torch.Tensor:
    """Noise scaled to [0, 1] by its own min and max, as in Figure 6 of the paper."""
    lo, hi = noise.min(), noise.max()
    return (noise - lo) / (hi - lo).clamp(min=1e-12)


def pick_per_class(y: torch.Tensor, k_classes: int, seed: int = 0) -> list:
    """The first image of each of the first ``k_classes`` classes (deterministic)."""
    out = []
    for c in range(int(y.max()) + 1)[:k_classes]:
        idx = torch.nonzero(y == c).flatten()
        if len(idx):
            out.append(int(idx[0]))
    return out


def triplets(clean_u8, protected_u8, y, classes, idx=None, k_classes=6, title=None):
    """Rows: original, noise (rescaled to [0, 255] per image), protected."""
    idx = idx if idx is not None else pick_per_class(y, k_classes)
    fig, axes = plt.subplots(3, len(idx), figsize=(1.7 * len(idx), 5.4), squeeze=False)
    cmap = "gray" if clean_u8.shape[1] == 1 else None
    for j, i in enumerate(idx):
        noise = to_float(protected_u8[i]) - to_float(clean_u8[i])
        for r, im in enumerate((clean_u8[i], rescale_noise(noise), protected_u8[i])):
            ax = axes[r, j]
            ax.imshow(_img(im), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
        axes[0, j].set_title(str(classes[int(y[i])]), fontsize=9)
    for r, name in enumerate(("original", "noise (rescaled)", "protected")):
        axes[r, 0].set_ylabel(name, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def image_rows(rows: dict, y, classes, idx=None, k_classes=6, title=None, noise_of=None):
    """One row per entry of ``rows`` (label -> uint8 images), one column per image. With
    ``noise_of=(a, b)``, a last row shows ``rows[a] - rows[b]`` rescaled per image."""
    idx = idx if idx is not None else pick_per_class(y, k_classes)
    labels = list(rows) + ([f"{noise_of[0]} - {noise_of[1]}\n(rescaled)"] if noise_of else [])

    def image(r, i):
        if r < len(rows):
            return rows[labels[r]][i]
        return rescale_noise(to_float(rows[noise_of[0]][i]) - to_float(rows[noise_of[1]][i]))

    fig, axes = plt.subplots(len(labels), len(idx), figsize=(1.7 * len(idx), 1.8 * len(labels)),
                             squeeze=False)
    cmap = "gray" if next(iter(rows.values())).shape[1] == 1 else None
    for r, name in enumerate(labels):
        for j, i in enumerate(idx):
            ax = axes[r, j]
            ax.imshow(_img(image(r, i)), cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
        # horizontal and wrapped: rotated, a long label ran past its row into the next
        axes[r, 0].set_ylabel("\n".join(textwrap.fill(part, 18) for part in name.split("\n")),
                              fontsize=8, rotation=0, ha="right", va="center")
    for j, i in enumerate(idx):
        axes[0, j].set_title(str(classes[int(y[i])]), fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


Y_LABELS = {"test_acc": "clean test accuracy (%)",
            "early_stop_test_acc": "clean test acc. at early stop (%)"}

CURVE_NAMES = {"train_acc": "training accuracy (augmented batches)",
               "val_acc": "validation accuracy (held-out downloaded data)",
               "test_acc": "clean test accuracy"}


def curves(runs: dict, title: str = "", keys=("train_acc", "test_acc")):
    """Accuracy per epoch for several victims, one panel per key. ``runs`` maps a label to a
    history or to ``{seed: history}``; over seeds the line is the mean and the band +-1 std."""
    rows = []
    for label, hs in runs.items():
        hs = hs if "test_acc" not in hs else {0: hs}
        for seed, h in hs.items():
            for k in keys:
                for e, v in enumerate(h[k]):
                    rows.append({"epoch": e + 1, "accuracy (%)": 100 * v, "data": label,
                                 "seed": seed, "curve": CURVE_NAMES.get(k, k)})
    df = pd.DataFrame(rows)
    g = sns.relplot(data=df, x="epoch", y="accuracy (%)", hue="data", col="curve", kind="line",
                    marker="o", errorbar="sd", height=3.3, aspect=1.15,
                    facet_kws={"sharey": True})
    g.set(ylim=(0, 102))
    from matplotlib.ticker import MaxNLocator
    for ax in g.axes.flat:   # epochs are whole numbers
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    g.set_titles("{col_name}", size=9)
    if title:
        g.figure.suptitle(title, y=1.04, fontsize=11)
    return g.figure


def tidy(runs: dict, metrics=("test_acc", "early_stop_test_acc"), names=("data", "trainer")):
    """One row per run and seed from ``{key: {seed: history}}`` (key a tuple named by
    ``names``), with each metric in % (``test_acc``: last epoch; ``early_stop_test_acc``:
    the epoch picked on validation)."""
    from .experiment import METRICS
    rows = []
    for key, hs in runs.items():
        key = key if isinstance(key, tuple) else (key,)
        for seed, h in hs.items():
            row = dict(zip(names, key), seed=seed)
            for m in metrics:
                row[m] = 100 * h[METRICS[m]]
            rows.append(row)
    return pd.DataFrame(rows)


def mean_std_table(df: pd.DataFrame, index, columns=None, values="test_acc"):
    """``mean ± std (n)`` strings of ``values`` over seeds, pivoted for display."""
    keys = [index] + ([columns] if columns else [])
    agg = df.groupby(keys, sort=False)[values].agg(["mean", "std", "count"]).reset_index()
    agg["cell"] = [f"{num1(m)} ({n})" if n < 2 else f"{num1(m)} ± {num1(s)} ({n})"
                   for m, s, n in zip(agg["mean"], agg["std"], agg["count"])]
    if not columns:
        return agg.set_index(index)[["cell"]].rename(columns={"cell": f"{values} (%)"})
    return agg.pivot(index=index, columns=columns, values="cell")


def seed_table(df: pd.DataFrame, by=("data", "trainer"),
               metrics={"test_acc": "last epoch (%)",
                        "early_stop_test_acc": "early stop by validation (%)"}):
    """One row per run (``by`` joined), one column per metric: ``mean ± std (n)``."""
    df = df.assign(run=df[list(by)].astype(str).agg(", ".join, axis=1))
    return pd.concat([mean_std_table(df, "run", values=m).set_axis([label], axis=1)
                      for m, label in metrics.items()], axis=1)


def seed_bars(df: pd.DataFrame, x, y="test_acc", hue=None, title="", ax=None, ylabel=None,
              order=None):
    """Bars at the mean over seeds with +-1 std error bars, and every seed as a dot."""
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(7.5, 3.6))
    sns.barplot(data=df, x=x, y=y, hue=hue, order=order, errorbar="sd", capsize=0.1, alpha=0.75,
                ax=ax)
    sns.stripplot(data=df, x=x, y=y, hue=hue, order=order, dodge=hue is not None, size=4, legend=False,
                  palette="dark:black" if hue is not None else None,
                  color=None if hue is not None else "black", ax=ax)
    # each mean written at the foot of its bar: at the top, whiskers and dots cover it
    for cont in ax.containers:
        if hasattr(cont, "datavalues"):
            for rect, v in zip(cont.patches, cont.datavalues):
                if v == v:   # not NaN
                    ax.text(rect.get_x() + rect.get_width() / 2, 1.5, num1(v), ha="center",
                            va="bottom", fontsize=7.5)
    ax.set_ylim(0, 105)
    ax.set_ylabel(ylabel or Y_LABELS.get(y, y))
    ax.set_title(title, fontsize=10)
    if hue is not None:
        # outside the axes: inside, it can cover a bar's value label whatever corner it takes
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0,
                  frameon=False)
    return fig or ax.figure


def gan_history(histories: dict, title: str = ""):
    """Per-epoch log of Algorithm 1: losses, D's accuracy, f's accuracy on the noise alone."""
    rows = []
    for label, hist in histories.items():
        for r in hist:
            for k, name in (("confounder", "confounder loss (eq. 3)"),
                            ("adversarial", "G's adversarial loss"),
                            ("d_loss", "D loss (eq. 2)"),
                            ("noise_acc", "f's accuracy on the noise alone"),
                            ("d_acc_protected", "D's accuracy on protected images"),
                            ("noise_l2", "noise L2 norm")):
                rows.append({"epoch": r["epoch"], "value": r[k], "quantity": name, "run": label})
    df = pd.DataFrame(rows)
    g = sns.relplot(data=df, x="epoch", y="value", hue="run", col="quantity", col_wrap=3,
                    kind="line", marker="o", height=2.6, aspect=1.3,
                    facet_kws={"sharey": False})
    g.set_titles("{col_name}", size=9)
    if title:
        g.figure.suptitle(title, y=1.03, fontsize=11)
    return g.figure


def browser(clean_u8, protected_u8, y, classes, title: str = ""):
    """An ipywidgets slider stepping through images: original, noise, protected.

    The first image is drawn as an ordinary (static) output, so the built book shows it;
    in a live kernel, moving the slider draws the chosen image below it.
    """
    import ipywidgets as widgets
    from IPython.display import display

    def fig_for(i):
        fig = triplets(clean_u8, protected_u8, y, classes, idx=[i],
                       title="\n".join(textwrap.wrap(f"image {i} | {title}" if title else f"image {i}", 28)))
        fig.set_size_inches(2.0, 4.4 + 0.15 * (len(title) // 28))
        return fig

    fig_for(0)
    plt.show()
    out = widgets.Output()

    def draw(change):
        out.clear_output(wait=True)
        with out:
            fig_for(change["new"])
            plt.show()

    slider = widgets.IntSlider(value=0, min=0, max=len(clean_u8) - 1, description="image",
                               continuous_update=False)
    slider.observe(draw, names="value")
    display(widgets.VBox([slider, out]))
    return slider


def show_table(df: pd.DataFrame, exp, title: str = "", precision: int = 1):
    """Display a table captioned with the profile, dataset and device that produced it."""
    from IPython.display import display
    caption = f"{title} | {exp.data.name} | profile {exp.profile.name} | {exp.device_name}"
    display(df.style.format(precision=precision, na_rep="n/a").set_caption(caption))


def paper_beside_ours(ours: pd.DataFrame, theirs: pd.DataFrame, x: str, hue: str,
                      y: str = "test_acc", title: str = "", ax=None, order=None, hue_order=None):
    """Our per-seed values (small dots) and their mean ± std (large dot, bar) beside the
    paper's numbers (crosses). ``theirs`` has the columns ``x``, ``hue``, ``y`` and
    ``dataset`` (the paper's dataset, named in the legend: it may not be ours)."""
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 3.8))
    order = order or list(dict.fromkeys(ours[x]))
    hue_order = hue_order or list(dict.fromkeys(ours[hue]))
    pal = dict(zip(hue_order, sns.color_palette(n_colors=len(hue_order))))
    many = len(hue_order) > 1
    sns.stripplot(data=ours, x=x, y=y, hue=hue, order=order, hue_order=hue_order, dodge=many,
                  palette=pal, size=3.5, alpha=0.6, legend=False, ax=ax)
    sns.pointplot(data=ours, x=x, y=y, hue=hue, order=order, hue_order=hue_order,
                  dodge=0.53 if many else False,
                  palette=pal, errorbar="sd", markers="o", linestyles="none", capsize=0.08, ax=ax)
    k, width = len(hue_order), 0.8
    for _, r in theirs.iterrows():
        if r[x] not in order or r[hue] not in hue_order:
            continue
        pos = order.index(r[x]) - width / 2 + width * (hue_order.index(r[hue]) + 0.5) / k
        ax.scatter(pos, r[y], marker="x", s=60, color=pal[r[hue]], linewidths=2, zorder=5)
    if len(theirs):   # no legend entry for a panel the paper has no number for
        ds = ", ".join(sorted(set(theirs["dataset"])))
        ax.scatter([], [], marker="x", color="gray", label=f"the paper ({ds})")
    ax.legend(fontsize=7, ncol=2, loc="upper right")
    ax.set_ylim(0, 105)
    ax.set_ylabel(Y_LABELS.get(y, y))
    ax.set_xlabel("")
    ax.set_title(title, fontsize=9)
    return fig or ax.figure
