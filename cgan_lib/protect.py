"""Protect a folder of photos with a trained generator: one forward pass per image.

Any size and mode: RGB, RGBA (alpha kept as it is), grayscale, palette, 16-bit PNG, JPEG.
Images are converted to the generator's channel count (and the report says so), the
noise is ``G(x)`` bounded by the generator's epsilon, the output is ``clamp(x + G(x))``
written as a lossless 8-bit PNG. Inputs are never overwritten; unreadable files are
reported and skipped.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import metrics
from .artifacts import _atomic
from .device import device_name
from .device import progress as progress_bar
from .gan import load_generator

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


@dataclass
class ProtectReport:
    written: list = field(default_factory=list)
    skipped: list = field(default_factory=list)      # (path, reason)
    converted: list = field(default_factory=list)    # (path, from_mode, to_mode)
    seconds: dict = field(default_factory=dict)      # output path -> seconds (read, G, write)
    device: str = ""

    def summary(self) -> str:
        s = f"protected {len(self.written)} image(s)"
        if self.seconds:
            t = sum(self.seconds.values())
            s += f" in {t:.1f} s ({t / len(self.seconds):.2f} s per image on {self.device})"
        if self.converted:
            s += f"; converted {len(self.converted)} to the generator's channels"
        if self.skipped:
            s += f"; skipped {len(self.skipped)}: " + "; ".join(f"{p.name} ({r})" for p, r in self.skipped[:5])
        return s


def _read(path: Path, channels: int):
    """Read an image as float (C, H, W) in [0, 1], plus its alpha channel (or None) and mode."""
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        mode = im.mode
        alpha = None
        if mode in ("I;16", "I;16B", "I;16L", "I"):
            arr = np.asarray(im, dtype=np.float64)
            maxv = 65535.0 if arr.max() > 255 or mode.startswith("I;16") else 255.0
            gray = (arr / maxv).astype(np.float32)
            x = torch.from_numpy(gray)[None]
        else:
            if "A" in mode or (mode == "P" and "transparency" in im.info):
                rgba = im.convert("RGBA")
                alpha = rgba.getchannel("A")
                base = rgba.convert("RGB")
            else:
                base = im.convert("RGB") if mode != "L" else im
            x = torch.from_numpy(np.asarray(base, dtype=np.uint8).copy()).float() / 255.0
            x = x.permute(2, 0, 1) if x.ndim == 3 else x[None]
    src_c = x.shape[0]
    if channels == 1 and src_c == 3:
        x = (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2])[None]
    elif channels == 3 and src_c == 1:
        x = x.expand(3, -1, -1)
    return x.contiguous(), alpha, mode, src_c


def protect_folder(generator: str | Path, in_dir: str | Path, out_dir: str | Path,
                   overwrite: bool = False, progress: bool = True) -> ProtectReport:
    """Protect every image under ``in_dir`` (recursively) into ``out_dir`` as PNG."""
    from PIL import Image

    in_dir, out_dir = Path(in_dir).resolve(), Path(out_dir).resolve()
    if not in_dir.is_dir():
        raise FileNotFoundError(f"Input folder {in_dir} does not exist.")
    if out_dir == in_dir:
        raise ValueError(f"The output folder must differ from the input folder ({in_dir}): "
                         f"protect never overwrites its inputs.")
    G = load_generator(generator)
    dev = next(G.parameters()).device
    channels = G.channels
    files = sorted(p for p in in_dir.rglob("*") if p.is_file() and out_dir not in p.parents)
    report = ProtectReport(device=device_name(dev))
    for p in progress_bar(files, "protect", progress):
        t0 = time.perf_counter()
        if p.suffix.lower() not in IMAGE_SUFFIXES:
            report.skipped.append((p, "not an image file"))
            continue
        dst = out_dir / p.relative_to(in_dir).with_suffix(".png")
        if dst.exists() and not overwrite:
            report.skipped.append((p, f"{dst.name} exists in the output folder"))
            continue
        try:
            x, alpha, mode, src_c = _read(p, channels)
        except Exception as e:
            report.skipped.append((p, f"unreadable: {type(e).__name__}: {e}"))
            continue
        if src_c != channels:
            report.converted.append((p, mode, "L" if channels == 1 else "RGB"))
        with torch.no_grad():
            xb = x.unsqueeze(0).to(dev)
            out = (xb + G(xb)).clamp(0, 1)[0].cpu()
        arr = out.mul(255).round().to(torch.uint8)
        arr = arr[0].numpy() if channels == 1 else arr.permute(1, 2, 0).numpy()
        img = Image.fromarray(arr, mode="L" if channels == 1 else "RGB")
        if alpha is not None and channels == 3:
            img.putalpha(alpha)
        _atomic(dst, lambda t: img.save(t, format="PNG"))
        report.written.append(dst)
        report.seconds[dst] = time.perf_counter() - t0
    return report


def image_quality(original: str | Path, protected: str | Path, channels: int = 3) -> dict:
    """How far a protected file is from its original, both read as the generator saw them
    (``channels``, values in [0, 1]; a 16-bit original at full depth, alpha left out):
    PSNR (dB), SSIM and the largest change in 1/255 units."""
    a = _read(Path(original), channels)[0]
    b = _read(Path(protected), channels)[0]
    if a.shape != b.shape:
        raise ValueError(f"{original} and {protected} differ in size: {tuple(a.shape)} vs "
                         f"{tuple(b.shape)}; pass an original and its own protected copy.")
    return {"psnr_db": float(metrics.psnr(a[None], b[None])[0]),
            "ssim": float(metrics.ssim(a[None], b[None])[0]),
            "linf_255": float(((b - a).abs().max() * 255))}


# The photos that ship inside the scikit-image wheel (no download), written the way a
# user's folder looks: each name maps to (scikit-image function, file name, what is done).
SAMPLE_PHOTOS = {
    "astronaut": ("astronaut", "astronaut.jpg", "RGB JPEG (quality 92)"),
    "chelsea": ("chelsea", "chelsea.png", "RGBA PNG (a soft alpha gradient)"),
    "coffee": ("coffee", "coffee.jpg", "RGB JPEG (quality 92)"),
    "rocket": ("rocket", "rocket.png", "RGB PNG"),
    "camera": ("camera", "camera.png", "grayscale PNG"),
    "coins": ("coins", "coins-16bit.png", "16-bit grayscale PNG"),
}


def sample_photo_folder(dest: str | Path, names=None, broken: bool = True) -> dict:
    """Write scikit-image's sample photos into ``dest`` as a mixed folder (RGB JPEG, RGBA
    PNG, grayscale, 16-bit PNG), plus a truncated JPEG and a text file when ``broken``.
    Returns ``{file name: description}``."""
    from PIL import Image
    try:
        import skimage.data
    except ImportError as e:
        raise ImportError("The sample photos come from scikit-image: pip install scikit-image "
                          "(its wheel ships them, no download).") from e
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in names or SAMPLE_PHOTOS:
        fn, fname, what = SAMPLE_PHOTOS[name]
        arr = getattr(skimage.data, fn)()
        path = dest / fname
        if "16-bit" in what:
            img = Image.fromarray(arr.astype(np.uint16) * 257)   # mode I;16
        elif "RGBA" in what:
            h, w = arr.shape[:2]
            alpha = np.tile(np.linspace(255, 64, w, dtype=np.float32), (h, 1)).astype(np.uint8)
            img = Image.fromarray(np.dstack([arr, alpha]), mode="RGBA")
        else:
            img = Image.fromarray(arr)
        if path.suffix == ".jpg":
            _atomic(path, lambda t: img.save(t, format="JPEG", quality=92))
        else:
            _atomic(path, lambda t: img.save(t, format="PNG"))
        out[fname] = f"{what}, {arr.shape[1]}x{arr.shape[0]} pixels"
    if broken:
        good = (dest / "astronaut.jpg").read_bytes() if (dest / "astronaut.jpg").exists() else b"\xff\xd8"
        (dest / "broken.jpg").write_bytes(good[:len(good) // 5])
        out["broken.jpg"] = "a JPEG cut off after a fifth of its bytes"
        (dest / "notes.txt").write_text("not an image\n")
        out["notes.txt"] = "a text file"
    return out
