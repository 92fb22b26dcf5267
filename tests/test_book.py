"""The book: badges, parameters cells, and a full build from executed notebooks (profile ci)."""
import json
import re
from pathlib import Path

import pytest

from cgan_lib import book

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_notebooks_exist_in_order():
    names = [n.stem for n in NOTEBOOKS]
    assert names[:3] == ["01_class_wise_patches", "02_confoundergan", "03_mixes"]
    toc = (ROOT / "_toc.yml").read_text()
    for n in names:
        assert f"notebooks/{n}" in toc


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_structure(nb):
    cells = json.loads(nb.read_text())["cells"]
    assert book.colab_badge(nb, ROOT) in "".join(cells[0]["source"])   # badge from _config.yml
    install = "".join(cells[1]["source"])
    assert "google.colab" in install and "remove-cell" in cells[1]["metadata"]["tags"]
    params = [c for c in cells if "parameters" in c["metadata"].get("tags", [])]
    assert len(params) == 1 and 'os.environ.get("CGAN_PROFILE"' in "".join(params[0]["source"])
    assert not any(c.get("outputs") for c in cells if c["cell_type"] == "code"), "commit notebooks without outputs"
    assert any("assert " in "".join(c["source"]) for c in cells if c["cell_type"] == "code"), \
        "each chapter asserts its key claims"


def test_scoreboard_and_status_from_records(tmp_path):
    res = tmp_path / "results" / "ci"
    res.mkdir(parents=True)
    (res / "02.json").write_text(json.dumps({"notebook": "02", "records": [
        {"experiment": "table2", "dataset": "cifar10", "arch": "resnet18", "method": "confoundergan",
         "setting": "No augmentation", "metric": "test_acc", "value": 0.5, "paper_value": 0.112,
         "profile": "ci", "device": "CPU", "seconds": 1.0}]}))
    (res / "_status.json").write_text(json.dumps({"notebooks": [
        {"notebook": "02", "profile": "ci", "status": "ok", "seconds": 12.0, "device": "CPU", "started": "x"}]}))
    board = book.scoreboard_tables(tmp_path)
    assert "Table 2" in board and "| 11.2 |" in board and "+38.8" in board
    assert "| 02 | ci | ok | 12 s | CPU |" in book.status_table(tmp_path)


def test_the_book_builds_from_executed_notebooks():
    """Runs the book command (profile ci), then reads the HTML as a reader would."""
    assert book.run_book("ci") == 0
    html = ROOT / "book" / "_build" / "html"
    pages = {p.stem: p.read_text() for p in html.rglob("*.html")}
    for nb in NOTEBOOKS:
        page = pages.get(nb.stem)
        assert page is not None, f"no page for {nb.stem}"
        assert "Traceback" not in page and "AssertionError" not in page
        assert len(re.findall(r"<img [^>]*src=\"[^\"]*\.png\"", page)) >= 2, f"{nb.stem} shows no figures"
        assert "colab.research.google.com/github/" in page
        assert "injected-parameters" not in page
    for name in ("intro", "setup", "scoreboard", "status", "references"):
        assert name in pages, name
    assert "profile" in pages["status"] and "ci" in pages["status"]
    assert "Table 2" in pages["scoreboard"] and "11.2" in pages["scoreboard"]
    assert "Huang" in pages["references"]
