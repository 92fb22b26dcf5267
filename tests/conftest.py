import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("CGAN_OFFLINE", "1")

SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """An empty artifact cache for tests that must compute from scratch."""
    monkeypatch.setenv("CGAN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def fmnist():
    from cgan_lib.data import load_dataset
    return load_dataset("fashion-mnist")
