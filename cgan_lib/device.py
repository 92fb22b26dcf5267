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


PRECISION_ENV = "CGAN_PRECISION"


@functools.lru_cache(maxsize=None)
def _cpu_has_bf16() -> bool:
    try:
        return bool(torch.backends.mkldnn.is_available()
                    and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def uses_bf16(device: torch.device | None = None) -> bool:
    """Whether classifier training and evaluation run in bf16 autocast on ``device``.

    On CUDA, always. On a CPU, where oneDNN computes bf16 natively (AVX512-BF16 or AMX),
    where a victim step is faster than in fp32; elsewhere bf16 would be emulated, and
    slower. ``CGAN_PRECISION=fp32`` turns it off, ``=bf16`` forces it.
    The choice is part of the device label of every number and of the cache keys.
    """
    device = device or get_device()
    mode = os.environ.get(PRECISION_ENV, "auto").strip().lower()
    if mode not in ("auto", "fp32", "bf16"):
        raise ValueError(f"{PRECISION_ENV}={mode!r}: use auto, fp32 or bf16.")
    if mode != "auto":
        return mode == "bf16" and device.type in ("cuda", "cpu")
    if device.type == "cuda":
        return True
    return device.type == "cpu" and _cpu_has_bf16()


def precision_key(device: torch.device | None = None) -> dict:
    """What a cache key adds for the precision: nothing for fp32 and for CUDA's bf16 (the
    keys of earlier runs), ``{"precision": "bf16-cpu"}`` for bf16 on a CPU."""
    device = device or get_device()
    return {"precision": "bf16-cpu"} if device.type == "cpu" and uses_bf16(device) else {}


def device_name(device: torch.device | None = None) -> str:
    """Human-readable name of the device, for labelling every number we show."""
    device = device or get_device()
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple MPS"
    cpu = platform.processor() or platform.machine()
    n = torch.get_num_threads()
    bf16 = ", bf16" if uses_bf16(device) else ""
    return f"CPU ({n} thread{'s' if n > 1 else ''}, {cpu}{bf16})"


# the instruction sets that decide a CPU's speed here: AVX2 (fp32), AVX-512, and native bf16
# (AVX512-BF16, AMX); a victim costs about 4x more on an AVX2-only CPU than with AMX
_ISA_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


@functools.lru_cache(maxsize=None)
def cpu_model() -> tuple[str, tuple | None]:
    """The CPU's model name and which of :data:`_ISA_FLAGS` it has, from /proc/cpuinfo
    (Linux); elsewhere ``platform.processor()`` and ``None``: flags unknown, which is not
    the same as none."""
    name, flags = "", None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, val = line.partition(":")
                key = key.strip()
                if key == "model name" and not name:
                    name = val.strip()
                elif key == "flags" and flags is None:
                    flags = set(val.split())
                if name and flags is not None:
                    break
    except OSError:
        pass
    isa = None if flags is None else tuple(fl for fl in _ISA_FLAGS if fl in flags)
    return name or platform.processor() or platform.machine(), isa


def isa_text(isa) -> str:
    """``avx2, amx_bf16``; ``none of avx2/...`` where the flags were read and none is
    there; ``flags unknown`` where they could not be read (not Linux)."""
    if isa is None:
        return "flags unknown"
    return ", ".join(isa) or "none of " + "/".join(_ISA_FLAGS)


def cpu_label() -> str:
    """``AMD EPYC (avx2)``: the CPU's model and instruction sets, for status records."""
    model, isa = cpu_model()
    return f"{model} ({isa_text(isa)})"


def machine_info(device: torch.device | None = None) -> dict:
    """Where a measurement was taken, for every benchmark and status record: the device
    label of :func:`device_name`, the CPU's model and instruction sets, the host."""
    device = device or get_device()
    model, isa = cpu_model()
    return {"machine": device_name(device), "cpu": model,
            "cpu_isa": None if isa is None else list(isa),
            "host": platform.node(), "torch": torch.__version__}


def machine_tag(device: torch.device | None = None) -> str:
    """A short file-name tag that tells machines apart: the GPU's name, or ``cpu-`` with
    the CPU's vendor and its best instruction set (``cpu-amd-epyc-avx2``,
    ``cpu-intel-xeon-amx_bf16``), so results from different machines do not overwrite
    each other."""
    device = device or get_device()
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    elif device.type != "cpu":
        name = device_name(device)                      # "Apple MPS"
    else:
        model, isa = cpu_model()
        words = [w for w in model.replace("(R)", "").replace("(TM)", "").split()
                 if w.isalpha() and w.lower() not in ("cpu", "processor", "core")][:2]
        name = "-".join(["cpu", *words, isa[-1] if isa else platform.machine()])
    tag = "".join(c if c.isalnum() or c == "_" else "-" for c in name.lower())
    while "--" in tag:
        tag = tag.replace("--", "-")
    return tag.strip("-")


def progress(iterable, desc: str, enabled: bool = True, **kw):
    """``tqdm.auto`` progress bar: a widget in notebooks, text in a terminal.

    ``TQDM_DISABLE=1`` (set by the book runner and CI) turns every bar off, so executed
    notebooks store no widget outputs that a static page cannot show.
    """
    from tqdm.auto import tqdm
    off = (not enabled) or os.environ.get("TQDM_DISABLE", "") not in ("", "0", "false")
    return tqdm(iterable, desc=desc, leave=False, disable=off, **kw)
