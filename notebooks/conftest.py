"""Keep what nbval executes, so ``make test`` runs every notebook once.

nbval executes each notebook cell by cell (the test), and throws the outputs away. This
plugin writes them back into a copy of the notebook in the book's staging folder
(``book/_build/stage/notebooks/``, where the papermill runner writes its copies) and records
the notebook's duration, peak memory, artifacts computed and status in
``results/<profile>/_status.json``, as the runner does. ``tests/test_book.py`` then builds
the HTML from these copies instead of executing the notebooks a second time.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat
import pytest

from cgan_lib import book
from cgan_lib.artifacts import atomic_write_text, project_root

_RUNS: dict = {}


def _is_cell(item) -> bool:
    return type(item).__name__ == "IPyNbCell" and hasattr(item, "test_outputs")


def _run_for(item) -> dict:
    key = str(item.parent.fspath)
    if key not in _RUNS:
        mem = book._PeakMemory().__enter__()
        nb = item.parent.nb
        _RUNS[key] = dict(t0=time.time(), started=time.strftime("%Y-%m-%d %H:%M:%S"), mem=mem,
                          before=book._n_artifacts(), failed=None, nb=nb, path=Path(key),
                          n_code=sum(c.cell_type == "code" for c in nb.cells), done=False,
                          jobs=_prefill(Path(key)))
    return _RUNS[key]


def _prefill(path: Path) -> int:
    """``CGAN_JOBS`` > 1 on a CPU: the runner's ``--jobs`` cache fill
    (:func:`cgan_lib.book.fill_cache`), inside the notebook's timed window; nbval's run then
    finds each seed's artifacts cached. Returns the jobs used (1: none)."""
    return book.fill_cache(path, os.environ.get("CGAN_PROFILE", "ci"), None,
                           int(os.environ.get("CGAN_JOBS") or 1))


def _finish(run: dict):
    if run["done"]:
        return
    run["done"] = True
    run["mem"].__exit__(None, None, None)
    from cgan_lib.device import cpu_label, device_name
    profile = os.environ.get("CGAN_PROFILE", "ci")
    name = run["path"].stem
    out = project_root() / "book" / "_build" / "stage" / "notebooks" / run["path"].name
    atomic_write_text(nbformat.writes(run["nb"]), out)
    row = {"notebook": name, "profile": profile, "device": device_name(), "cpu": cpu_label(),
           "started": run["started"],
           "status": "ok" if run["failed"] is None else "failed",
           "seconds": round(time.time() - run["t0"], 1), "peak_rss_mb": round(run["mem"].peak),
           "computed": book._n_artifacts() - run["before"], "executed_by": "nbval"}
    if run["jobs"] > 1:
        row["jobs"] = run["jobs"]
    book._write_status(profile, [row])
    book.EXECUTED_THIS_SESSION[name] = row["status"] if run["failed"] is None else \
        f"failed at code cell {run['failed']}"


def pytest_runtest_setup(item):
    if _is_cell(item):
        _run_for(item)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.when != "call" or not _is_cell(item):
        return
    rep = outcome.get_result()
    run = _run_for(item)
    item.cell.outputs = [nbformat.from_dict(dict(o)) for o in (item.test_outputs or [])]
    item.cell.execution_count = item.cell_num + 1
    for o in item.cell.outputs:
        if o.get("output_type") == "execute_result":
            o["execution_count"] = item.cell_num + 1
    if rep.failed and run["failed"] is None:
        run["failed"] = item.cell_num
    if item.cell_num == run["n_code"] - 1:
        _finish(run)


def pytest_sessionfinish(session):
    for run in _RUNS.values():     # a notebook whose last cell never ran (interrupted)
        if not run["done"]:
            run["failed"] = run["failed"] if run["failed"] is not None else "unfinished"
            _finish(run)
