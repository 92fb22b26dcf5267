"""Device selection (once, for the whole process), CPU threads and progress bars."""
from __future__ import annotations

import functools
import os
import platform

import torch


@functools.lru_cache(maxsize=None)
def get_device() -> torch.device:
    """cuda, then mps, then cpu. ``CGAN_DEVICE`` overrides (e.g. ``CGAN_DEVICE=cpu``)."""
    forced = os.environ.get("CGAN_DEVICE")
    if forced:
        return torch.device(forced)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    configure_threads()
    return torch.device("cpu")


def configure_threads() -> int:
    """Set torch's CPU threads from ``CGAN_THREADS`` (default: torch's own choice).

    On a loaded 2-core machine one thread can be several times faster than two.
    """
    n = os.environ.get("CGAN_THREADS")
    if n:
        torch.set_num_threads(max(1, int(n)))
    return torch.get_num_threads()


def device_name(device: torch.device | None = None) -> str:
    """Human-readable name of the device, for labelling every number we show."""
    device = device or get_device()
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple MPS"
    cpu = platform.processor() or platform.machine()
    n = torch.get_num_threads()
    return f"CPU ({n} thread{'s' if n > 1 else ''}, {cpu})"


def progress(iterable, desc: str, enabled: bool = True, **kw):
    """``tqdm.auto`` progress bar: a widget in notebooks, text in a terminal.

    ``TQDM_DISABLE=1`` (set by the book runner and CI) turns every bar off, so executed
    notebooks store no widget outputs that a static page cannot show.
    """
    from tqdm.auto import tqdm
    off = (not enabled) or os.environ.get("TQDM_DISABLE", "") not in ("", "0", "false")
    return tqdm(iterable, desc=desc, leave=False, disable=off, **kw)
