"""The book runner: execute the notebooks with papermill, then build the HTML with Jupyter Book.

``python -m cgan_lib book --profile ci``:

1. copies the book's sources (``_config.yml``, ``_toc.yml``, ``book/``) into a staging
   folder ``book/_build/stage`` that mirrors the repository's layout (so every Colab
   link points at a notebook that exists in the repository);
2. executes each ``notebooks/NN_*.ipynb`` in order with papermill, injecting ``profile``
   and ``data_root``, recording duration, device and status; stops at the first error
   and shows the failing cell; skips nothing silently;
3. fills the status page and the reproduction scoreboard from ``results/<profile>/*.json``;
4. builds the HTML with Jupyter Book (execution off: the notebooks are already executed)
   into ``book/_build/html``.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .artifacts import atomic_write_text, load_results

STATUS_MARKER = "<!-- STATUS TABLE -->"
SCOREBOARD_MARKER = "<!-- SCOREBOARD TABLES -->"


def project_root(start: Path | None = None) -> Path:
    """The repository root: the nearest folder above ``start`` holding ``_config.yml`` and
    ``cgan_lib`` (so notebooks run from ``notebooks/`` write to the root's ``results/``)."""
    p = (start or Path.cwd()).resolve()
    for q in (p, *p.parents):
        if (q / "_config.yml").is_file() and (q / "cgan_lib").is_dir():
            return q
    return p


def notebooks(root: Path | None = None, only=None) -> list[Path]:
    root = root or project_root()
    nbs = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if only:
        nbs = [n for n in nbs if any(n.name.startswith(o) or n.stem == o for o in only)]
        if not nbs:
            raise ValueError(f"No notebook matches {only}; available: "
                             f"{', '.join(n.stem for n in notebooks(root))}")
    return nbs


def _tag_for_book(path: Path):
    """Hide papermill's injected-parameters cell in the book (tag ``remove-cell``)."""
    nb = json.loads(path.read_text())
    for c in nb["cells"]:
        tags = c.setdefault("metadata", {}).setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    atomic_write_text(json.dumps(nb, indent=1), path)


def execute_notebooks(profile: str, only=None, data_root=None, timeout=None,
                      out_dir: Path | None = None) -> list[dict]:
    """Execute the notebooks in order; return one status row per notebook.

    Raises ``RuntimeError`` naming the notebook and cell at the first failure.
    """
    import papermill as pm

    root = project_root()
    out_dir = out_dir or root / "book" / "_build" / "stage" / "notebooks"
    out_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TQDM_DISABLE", "1")   # no widget progress bars in stored outputs
    os.environ["CGAN_PROFILE"] = profile
    if data_root:
        os.environ["CGAN_DATA"] = str(data_root)
    rows = []
    from .device import device_name
    for nb in notebooks(root, only):
        out = out_dir / nb.name
        t0 = time.time()
        print(f"[book] executing {nb.name} (profile {profile}) ...", flush=True)
        row = {"notebook": nb.stem, "profile": profile, "device": device_name(),
               "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        try:
            pm.execute_notebook(str(nb), str(out), parameters={"profile": profile,
                                                               "data_root": data_root},
                                cwd=str(nb.parent), kernel_name="python3",
                                execution_timeout=timeout, progress_bar=False,
                                report_mode=False, log_output=False)
        except Exception as e:  # papermill.PapermillExecutionError and friends
            row.update(status="failed", seconds=round(time.time() - t0, 1))
            rows.append(row)
            _write_status(root, profile, rows)
            detail = getattr(e, "evalue", None) or str(e)
            cell = getattr(e, "exec_count", None)
            raise RuntimeError(f"{nb.name} failed at cell {cell}: {getattr(e, 'ename', type(e).__name__)}: "
                               f"{detail}\nThe partly executed notebook is {out}.") from e
        _tag_for_book(out)
        row.update(status="ok", seconds=round(time.time() - t0, 1))
        rows.append(row)
        _write_status(root, profile, rows)
        print(f"[book] {nb.name}: ok in {row['seconds']:.0f} s", flush=True)
    return rows


def _write_status(root: Path, profile: str, rows: list[dict]):
    path = root / "results" / profile / "_status.json"
    old = {}
    if path.is_file():
        old = {r["notebook"]: r for r in json.loads(path.read_text()).get("notebooks", [])}
    for r in rows:
        old[r["notebook"]] = r
    atomic_write_text(json.dumps({"notebooks": sorted(old.values(), key=lambda r: r["notebook"])},
                                 indent=1), path)


# ----------------------------------------------------------------------------- pages

def status_table(root: Path) -> str:
    lines = ["| notebook | profile | status | duration | device | executed |",
             "|---|---|---|---|---|---|"]
    for f in sorted((root / "results").glob("*/_status.json")):
        for r in json.loads(f.read_text()).get("notebooks", []):
            lines.append(f"| {r['notebook']} | {r['profile']} | {r['status']} | "
                         f"{r.get('seconds', 0):.0f} s | {r['device']} | {r.get('started', '')} |")
    if len(lines) == 2:
        return "No notebook has been executed yet: run `python -m cgan_lib book`."
    return "\n".join(lines)


def _pct(v):
    return "" if v is None else f"{100 * v:.1f}"


EXPERIMENT_TITLES = {
    "fig2": "Figure 2(d): class-wise patches (paper: ImageNet25, ResNet18)",
    "sec4.2-cwn": "Section 4.2: class-wise noise and early stopping (no paper values)",
    "confounder-property": "The confounder property: f's accuracy on the noise alone (no paper values)",
    "fig4ab": "Figure 4(a, b): victims on 100% protected data (paper values only in the figure)",
    "table2": "Table 2: victims on 100% protected data, with and without augmentation (paper: CIFAR-10)",
    "fig5": "Figure 5 and Table 4: mixes of protected and natural data (paper: CIFAR-10, polyline 5 only)",
    "fig4cd": "Figure 4(c, d): the curves at p = 90% (paper values only in the figure)",
}


def scoreboard_tables(root: Path) -> str:
    """Every record with a paper value: the paper's number, ours per profile, the difference."""
    recs = [r for r in load_results(root / "results") if r.get("metric", "").endswith("acc")]
    if not recs:
        return "No results yet: run `python -m cgan_lib book`."
    known = ["ci", "quick", "paper"]
    profiles = sorted({r["profile"] for r in recs}, key=lambda p: known.index(p) if p in known else 9)
    groups: dict = {}
    for r in recs:
        groups.setdefault(r["experiment"], []).append(r)
    order = list(EXPERIMENT_TITLES)
    out = []
    for exp in sorted(groups, key=lambda e: (order.index(e) if e in order else 99, e)):
        rows: dict = {}
        for r in groups[exp]:
            rows.setdefault((r["method"], r["setting"], r["metric"]), {})[r["profile"]] = r
        out.append(f"## {EXPERIMENT_TITLES.get(exp, exp)}\n")
        for p in profiles:
            where = sorted({f"{r['dataset']}, {r['arch']}, {r['device']}"
                            for r in groups[exp] if r["profile"] == p})
            if where:
                out.append(f"* ours, `{p}`: " + "; ".join(where))
        out.append("")
        out.append("| method | setting | metric | paper (%) | paper's dataset | "
                   + " | ".join(f"ours, {p} (%) | ours - paper, {p}" for p in profiles) + " |")
        out.append("|" + "---|" * (5 + 2 * len(profiles)))
        for (m, setting, metric), by in sorted(rows.items()):
            pv = next((r["paper_value"] for r in by.values() if r.get("paper_value") is not None), None)
            pds = next((r.get("paper_dataset") for r in by.values() if r.get("paper_dataset")), "")
            cells = []
            for p in profiles:
                r = by.get(p)
                if r is None:
                    cells += ["", ""]
                else:
                    cells += [_pct(r["value"]), "" if pv is None else f"{100 * (r['value'] - pv):+.1f}"]
            out.append(f"| {m} | {setting} | {metric} | {_pct(pv) or 'n/a'} | {pds or ''} | "
                       + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def _fill(page: Path, marker: str, body: str):
    text = page.read_text()
    if marker not in text:
        raise RuntimeError(f"{page} lacks the marker {marker}")
    page.write_text(text.replace(marker, body))


def stage_sources(root: Path, stage: Path):
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(root / name, stage / name)
    if (stage / "book").exists():
        shutil.rmtree(stage / "book")
    shutil.copytree(root / "book", stage / "book", ignore=shutil.ignore_patterns("_build"))


def build_html(root: Path, stage: Path) -> Path:
    """Fill the generated pages and run ``jupyter-book build`` on the staging folder."""
    stage_sources(root, stage)
    _fill(stage / "book" / "status.md", STATUS_MARKER, status_table(root))
    _fill(stage / "book" / "scoreboard.md", SCOREBOARD_MARKER, scoreboard_tables(root))
    missing = [n.name for n in notebooks(root) if not (stage / "notebooks" / n.name).is_file()]
    if missing:
        raise RuntimeError(f"Not executed yet: {', '.join(missing)}. Run the book command "
                           f"without --only once.")
    jb = shutil.which("jupyter-book") or str(Path(sys.executable).parent / "jupyter-book")
    cmd = [jb, "build", str(stage), "--builder", "html", "--keep-going"]
    print("[book]", " ".join(cmd), flush=True)
    res = subprocess.run(cmd, capture_output=True, text=True)
    sys.stdout.write(res.stdout[-4000:])
    if res.returncode != 0:
        sys.stderr.write(res.stderr[-4000:])
        raise RuntimeError("jupyter-book build failed (see above).")
    html = root / "book" / "_build" / "html"
    if html.exists():
        shutil.rmtree(html)
    shutil.copytree(stage / "_build" / "html", html)
    return html / "index.html"


def run_book(profile=None, only=None, data_root=None, build=True, timeout=None) -> int:
    from .profiles import get_profile
    prof = get_profile(profile).name
    root = project_root()
    stage = root / "book" / "_build" / "stage"
    rows = execute_notebooks(prof, only, data_root, timeout, stage / "notebooks")
    total = sum(r["seconds"] for r in rows)
    print(f"[book] executed {len(rows)} notebook(s) in {total:.0f} s")
    if build:
        index = build_html(root, stage)
        print(f"[book] built {index}")
    return 0


def repository_url(root: Path | None = None) -> str:
    """The one repository URL, from ``_config.yml``."""
    import yaml
    cfg = yaml.safe_load(((root or project_root()) / "_config.yml").read_text())
    return cfg["repository"]["url"].rstrip("/")


def colab_url(notebook: Path, root: Path | None = None) -> str:
    """Colab link of a notebook *in the repository* (never of an executed copy)."""
    root = root or project_root()
    url = repository_url(root)
    slug = url.split("github.com/", 1)[1]
    rel = Path(notebook).resolve().relative_to(root).as_posix()
    return f"https://colab.research.google.com/github/{slug}/blob/main/{rel}"


def colab_badge(notebook: Path, root: Path | None = None) -> str:
    return ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"({colab_url(notebook, root)})")
