"""The artifact cache and the results records.

Every artifact (a trained classifier, a generator, a protected dataset, a victim's
result) is stored under a key built from everything that determines it, so a re-run
costs nothing and a changed setting never reuses a stale result. Writes are atomic: a
killed process leaves either the old file or the new one, never half of one.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import torch

# Bump the version of a step when its code changes what it produces.
CODE_VERSIONS = {
    "decoded": 1,
    "classifier": 2,   # 2: settings objects; f trained on the owner's data only
    "generator": 3,    # 3: per-dataset epochs, settings objects
    "emn": 2,          # 2: outer lr from the profile
    "victim": 2,       # 2: validation hold-out and early stopping by validation
    "snapshots": 1,
    "denoiser": 2,      # 2: the last layer starts at zero (identity)
}


class CorruptCheckpointError(RuntimeError):
    pass


class DeadlineReached(RuntimeError):
    """The run's stop time (``CGAN_STOP_AT``) has passed: the run stops before its next
    piece of work. Everything finished is cached, so running again resumes from it."""


STOP_AT_ENV = "CGAN_STOP_AT"


def check_deadline(what: str) -> None:
    """Raise :class:`DeadlineReached` if ``$CGAN_STOP_AT`` (a Unix time in seconds; ``python
    -m cgan_lib book --stop-at HH:MM`` sets it) has passed. Called before each artifact is
    computed and between the epochs and rounds of the long ones, so that a run given a stop
    time ends between pieces of work instead of losing one half done."""
    at = os.environ.get(STOP_AT_ENV)
    if not at:
        return
    try:
        t = float(at)
    except ValueError:
        raise ValueError(f"{STOP_AT_ENV}={at!r} is not a time: give a Unix time in seconds, or "
                         f"use `python -m cgan_lib book --stop-at HH:MM`") from None
    if time.time() >= t:
        raise DeadlineReached(
            f"the stop time {time.strftime('%Y-%m-%d %H:%M', time.localtime(t))} "
            f"({STOP_AT_ENV}) has passed: stopped before {what}. What was finished is cached; "
            f"run again to resume from it.")


def cache_dir() -> Path:
    """Root of the artifact cache: ``$CGAN_CACHE``, else ``~/.cache/cgan_lib``."""
    p = Path(os.environ.get("CGAN_CACHE") or Path.home() / ".cache" / "cgan_lib")
    p.mkdir(parents=True, exist_ok=True)
    return p


def make_key(step: str, params: dict) -> str:
    """Deterministic key for ``step`` from ``params`` (JSON-able) and the step's code version."""
    blob = json.dumps({"step": step, "v": CODE_VERSIONS.get(step, 0), **params},
                      sort_keys=True, default=str)
    return f"{step}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """Write ``path`` through a temporary file in the same folder and a rename. The file
    gets the permissions the user's umask gives a new file (``mkstemp`` alone would leave
    it readable by its owner only, which a web server, for one, refuses to serve)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` to ``path`` atomically (write to a temporary file, then rename)."""
    return _atomic(Path(path), lambda t: torch.save(obj, t))


def atomic_write_text(text: str, path: str | os.PathLike) -> Path:
    return _atomic(Path(path), lambda t: t.write_text(text))


def load_checkpoint(path: str | os.PathLike) -> Any:
    """``torch.load(..., weights_only=True)`` with a clear error for missing or corrupt files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}.")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle errors, truncated zip, wrong format ...
        raise CorruptCheckpointError(
            f"{path} is not a readable checkpoint ({type(e).__name__}: {e}). "
            f"It may be truncated or not a file written by cgan_lib; delete it to "
            f"recompute it, or point to the right file.") from e


def cached_path(step: str, params: dict, suffix: str = ".pt", subdir: str | None = None) -> Path:
    """Where the cache keeps the artifact of (step, params); ``suffix`` names a companion
    file beside it (e.g. ``.rounds.pt``, a run's checkpoint)."""
    return cache_dir() / (subdir or step) / f"{make_key(step, params)}{suffix}"


def cached_tensors(step: str, params: dict, compute: Callable[[], dict],
                   subdir: str | None = None) -> dict:
    """Load the dict of tensors stored under (step, params), or compute and store it."""
    path = cached_path(step, params, subdir=subdir)
    if path.is_file():
        try:
            return load_checkpoint(path)
        except CorruptCheckpointError as e:
            bad = path.with_suffix(".corrupt")
            path.rename(bad)  # kept for inspection, never overwritten in place
            warnings.warn(f"{e} Moved it to {bad} and recomputing.")
    check_deadline(f"computing {path.parent.name}/{path.name}")
    out = compute()
    atomic_save(out, path)
    return out


def cached_json(step: str, params: dict, compute: Callable[[], dict],
                accept: Callable[[dict], bool] | None = None) -> dict:
    """Load the JSON stored under (step, params), or compute and store it. With ``accept``,
    a stored result it rejects (one holding less than this call needs) is recomputed and
    replaced by the new, fuller result."""
    key = make_key(step, params)
    path = cache_dir() / step / f"{key}.json"
    if path.is_file():
        out = json.loads(path.read_text())
        if accept is None or accept(out):
            return out
    check_deadline(f"computing {step}/{key}.json")
    out = compute()
    atomic_write_text(json.dumps(out, indent=1), path)
    return out


# ----------------------------------------------------------------------------- records

IDENT = ("experiment", "dataset", "arch", "method", "setting", "metric")
RECORD_FIELDS = ("experiment", "dataset", "arch", "method", "setting", "metric", "value",
                 "paper_value", "profile", "device", "seconds")


def project_root(start: Path | None = None) -> Path:
    """The repository root: the nearest folder above ``start`` holding ``_config.yml`` and
    ``cgan_lib`` (so notebooks run from ``notebooks/`` write to the root's ``results/``)."""
    p = (start or Path.cwd()).resolve()
    for q in (p, *p.parents):
        if (q / "_config.yml").is_file() and (q / "cgan_lib").is_dir():
            return q
    return p


def results_dir() -> Path:
    """``$CGAN_RESULTS``, else ``results/`` at the repository root (found from the cwd)."""
    if os.environ.get("CGAN_RESULTS"):
        return Path(os.environ["CGAN_RESULTS"])
    return project_root() / "results"


def num1(x: float, sign: bool = False) -> str:
    """``x`` with one decimal, halves rounded up, after float noise is rounded away: the one
    rounding rule of every table, sentence and scoreboard cell, so that a mean shown in two
    places reads the same (a mean of two seeds on 1,000 test images often ends in .x5, and
    ``f"{x:.1f}"`` rounds such a tie up or down by the float's last bit)."""
    import math
    from decimal import ROUND_HALF_UP, Decimal
    if not math.isfinite(float(x)):
        return "n/a"
    d = Decimal(f"{float(x):.6f}").quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    d = d + 0 if d else Decimal("0.0")          # no "-0.0"
    return f"{d:+}" if sign else f"{d}"


def pct(frac: float, sign: bool = False) -> str:
    """A fraction as a percentage with :func:`num1`'s rounding: 0.70875 -> ``70.9``."""
    return num1(100 * float(frac), sign)


def spread(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0.0 for a single value)."""
    v = [float(x) for x in values]
    m = sum(v) / len(v)
    sd = (sum((x - m) ** 2 for x in v) / (len(v) - 1)) ** 0.5 if len(v) > 1 else 0.0
    return m, sd


class Results:
    """Collects a notebook's numbers and writes ``results/<profile>/<notebook>.json``.

    Records are replaced by (experiment, dataset, arch, method, setting, metric), so a
    re-run updates rather than duplicates them.
    """

    def __init__(self, notebook: str, profile: str, device: str, root: str | None = None):
        self.notebook, self.profile, self.device = notebook, profile, device
        self.path = Path(root or results_dir()) / profile / f"{notebook}.json"
        self.records: list[dict] = []

    def add(self, experiment: str, dataset: str, arch: str, method: str, setting: str,
            metric: str, value: float | None = None, paper_value: float | None = None,
            seconds: float | None = None, device: str | None = None, values=None, seeds=None,
            **extra) -> dict:
        """Add (or replace) a record. With ``values`` (one per seed in ``seeds``) the record
        carries them, ``value`` their mean and ``std`` their sample standard deviation."""
        if values is not None:
            values = [float(v) for v in values]
            if seeds is None or len(seeds) != len(values):
                raise ValueError("values need their seeds, one each")
            value, std = spread(values)
            extra.update(values=values, seeds=list(seeds), std=std, n_seeds=len(values))
        vals = values if values is not None else [value]
        if metric.endswith("acc") and any(v is not None and not 0.0 <= v <= 1.0 for v in vals):
            raise ValueError(f"accuracy {vals} is not a fraction in [0, 1]")
        rec = dict(experiment=experiment, dataset=dataset, arch=arch, method=method,
                   setting=setting, metric=metric, value=None if value is None else float(value),
                   paper_value=paper_value, profile=self.profile, device=device or self.device,
                   seconds=None if seconds is None else round(float(seconds), 2), **extra)
        ident = tuple(rec[k] for k in IDENT)
        self.records = [r for r in self.records if tuple(r[k] for k in IDENT) != ident]
        self.records.append(rec)
        return rec

    def save(self) -> Path:
        body = {"notebook": self.notebook, "profile": self.profile, "device": self.device,
                "written": time.strftime("%Y-%m-%d %H:%M:%S"), "records": self.records}
        return atomic_write_text(json.dumps(body, indent=1), self.path)


def read_json_object(path: Path, kind: str, what: str, fix: str) -> dict:
    """A committed JSON file that must hold an object; one that is not valid UTF-8 JSON or
    not an object is named (``kind``: "Results file", ...) with ``fix``."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{kind} {path} is not valid JSON ({e}); {fix}.") from e
    if not isinstance(body, dict):
        raise ValueError(f"{kind} {path} holds a {type(body).__name__}, not {what}; {fix}.")
    return body


def read_run(folder: str | os.PathLike) -> list[dict]:
    """The chapter files of one run (``results/<profile>/``, or a rerun's folder), each as
    ``{"notebook", "written", "device", "records"}`` with every record carrying its
    notebook's name. The one reader of committed results: a file that is not a results
    object is named, with the fix."""
    out = []
    for f in sorted(Path(folder).glob("[!_]*.json")):
        body = read_json_object(f, "Results file", "a notebook's results",
                                f"restore it from git (git checkout -- {f}) or run its notebook again")
        nb = body.get("notebook", f.stem)
        out.append({"notebook": nb, "written": body.get("written"), "device": body.get("device"),
                    "records": [{**r, "notebook": nb} for r in body.get("records", [])]})
    return out


def load_results(root: str | os.PathLike | None = None) -> list[dict]:
    """All records under ``results/*/*.json`` (each profile's run; not the reruns' or
    probes' folders below it, which have their own readers)."""
    root = Path(root or results_dir())
    if not root.is_dir():
        return []
    return [r for d in sorted(p for p in root.iterdir() if p.is_dir())
            for doc in read_run(d) for r in doc["records"]]
