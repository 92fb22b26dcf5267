"""Named image datasets, loaded into memory as uint8 tensors (N, C, H, W).

Where each dataset comes from, in order:

* ``fashion-mnist``: ``<root>/FashionMNIST/raw`` (torchvision layout), the Debian
  package ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``), then a
  torchvision download into ``<root>``.
* ``cifar10``: an ``ImageFolder`` copy ``<root>/cifar10/{train,test}/<class>/*.png``,
  torchvision's ``<root>/cifar-10-batches-py``, then a torchvision download.
* ``svhn``: torchvision (``<root>/svhn``), downloading if needed.
* ``bloodmnist``: the ``medmnist`` package (``pip install medmnist``), into ``<root>/medmnist``.
* ``folder:PATH``: any ``PATH/{train,test}/<class>/<image>`` tree (the paper's
  ImageNet25, Keratitis and ISIC are of this kind), resized to ``image_size``.

The data root is the ``root`` argument, else ``$CGAN_DATA``, else
``~/.cache/cgan_lib/data``. Nothing is ever replaced by synthetic data: a dataset that
cannot be found raises :class:`DatasetNotFoundError` saying what was looked for and how
to get it. Decoded arrays are cached (``$CGAN_CACHE/decoded``), so a second load of
CIFAR-10 takes well under a second. ``CGAN_OFFLINE=1`` disables downloads.
"""
from __future__ import annotations

import gzip
import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from .artifacts import atomic_save, cache_dir, load_checkpoint, make_key

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                       "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
DATASETS = ("fashion-mnist", "cifar10", "svhn", "bloodmnist", "folder:PATH")


class DatasetNotFoundError(FileNotFoundError):
    pass


class UnknownDatasetError(ValueError):
    pass


@dataclass
class ImageData:
    """A dataset in memory: uint8 images (N, C, H, W) in [0, 255] and int64 labels."""
    name: str
    classes: list
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    source: str = ""

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def channels(self) -> int:
        return int(self.train_x.shape[1])

    @property
    def image_size(self) -> tuple:
        return tuple(self.train_x.shape[2:])

    def __repr__(self) -> str:
        return (f"ImageData({self.name!r}: train {tuple(self.train_x.shape)}, "
                f"test {tuple(self.test_x.shape)}, {self.n_classes} classes, from {self.source})")

    def subset(self, n_train: int | None, n_test: int | None, seed: int = 0) -> "ImageData":
        """Balanced, reproducible subsets of the training and test sets."""
        tr = stratified_indices(self.train_y, n_train, seed)
        te = stratified_indices(self.test_y, n_test, seed + 1)
        return replace(self, train_x=self.train_x[tr], train_y=self.train_y[tr],
                       test_x=self.test_x[te], test_y=self.test_y[te])


def to_float(x_uint8: torch.Tensor) -> torch.Tensor:
    return x_uint8.float().div_(255.0)


def to_uint8(x_float: torch.Tensor) -> torch.Tensor:
    """Quantise images in [0, 1] to uint8, as a published PNG would store them."""
    return x_float.clamp(0, 1).mul(255.0).round_().to(torch.uint8)


def stratified_indices(y: torch.Tensor, n: int | None, seed: int = 0) -> torch.Tensor:
    """``n`` indices with classes as balanced as ``y`` allows, the same for the same seed."""
    if n is None or n >= len(y):
        return torch.arange(len(y))
    if n <= 0:
        raise ValueError(f"subset size must be positive, got {n}")
    g = torch.Generator().manual_seed(seed)
    classes = torch.unique(y)
    per = {int(c): torch.nonzero(y == c).flatten() for c in classes}
    per = {c: idx[torch.randperm(len(idx), generator=g)] for c, idx in per.items()}
    k = len(classes)
    quota = {c: n // k for c in per}
    for c in list(per)[: n % k]:
        quota[c] += 1
    # a class with too few images gives its remaining quota to the others, one at a time
    short = sum(max(0, quota[c] - len(per[c])) for c in per)
    quota = {c: min(quota[c], len(per[c])) for c in per}
    while short > 0:
        open_ = [c for c in sorted(per, key=lambda c: quota[c]) if quota[c] < len(per[c])]
        if not open_:
            break
        quota[open_[0]] += 1
        short -= 1
    idx = torch.cat([per[c][: quota[c]] for c in per])
    return idx.sort().values


def split_indices(n: int, fraction: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random split of ``range(n)`` into a ``fraction`` part and the rest (sorted)."""
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=g)
    k = int(round(fraction * n))
    return perm[:k].sort().values, perm[k:].sort().values


# ----------------------------------------------------------------------------- loaders

def data_root(root: str | os.PathLike | None = None) -> Path:
    return Path(root or os.environ.get("CGAN_DATA") or Path.home() / ".cache" / "cgan_lib" / "data")


def _offline() -> bool:
    return os.environ.get("CGAN_OFFLINE", "") not in ("", "0", "false")


def _download(fn, what: str, looked: list, how: str):
    if _offline():
        raise DatasetNotFoundError(
            f"{what} not found. Looked in: {'; '.join(map(str, looked))}. Downloads are "
            f"disabled (CGAN_OFFLINE is set). {how}")
    try:
        return fn()
    except Exception as e:
        raise DatasetNotFoundError(
            f"{what} not found and the download failed ({type(e).__name__}: {e}). Looked in: "
            f"{'; '.join(map(str, looked))}. {how}") from e


def _load_fashion_mnist(root: Path):
    import torchvision

    looked = [root / "FashionMNIST" / "raw", DEBIAN_FASHION_MNIST]
    src_root = None
    if all((root / "FashionMNIST" / "raw" / f).is_file() for f in FASHION_MNIST_FILES):
        src_root, source = root, str(root / "FashionMNIST")
    elif all((DEBIAN_FASHION_MNIST / (f + ".gz")).is_file() for f in FASHION_MNIST_FILES):
        # torchvision wants the uncompressed idx files under <root>/FashionMNIST/raw
        src_root = cache_dir() / "debian"
        raw = src_root / "FashionMNIST" / "raw"
        raw.mkdir(parents=True, exist_ok=True)
        for f in FASHION_MNIST_FILES:
            if not (raw / f).is_file():
                tmp = raw / (f + ".tmp")
                with gzip.open(DEBIAN_FASHION_MNIST / (f + ".gz"), "rb") as a, open(tmp, "wb") as b:
                    shutil.copyfileobj(a, b)
                os.replace(tmp, raw / f)
        source = f"{DEBIAN_FASHION_MNIST} (Debian package dataset-fashion-mnist)"
    sets = {}
    for train in (True, False):
        if src_root is not None:
            ds = torchvision.datasets.FashionMNIST(str(src_root), train=train, download=False)
        else:
            ds = _download(lambda: torchvision.datasets.FashionMNIST(str(root), train=train, download=True),
                           "Fashion-MNIST", looked,
                           "Install it with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu), "
                           "or allow the torchvision download, or set CGAN_DATA to a folder "
                           "holding FashionMNIST/raw/.")
            source = str(root / "FashionMNIST")
        sets[train] = (ds.data.unsqueeze(1).contiguous(), ds.targets.long())
        classes = list(ds.classes)
    return classes, sets, source


def _decode_image_folder(folder: Path, image_size=None, channels=None):
    """Decode an ImageFolder tree into uint8 tensors; unreadable images raise with their path."""
    import torchvision
    from torchvision.io import ImageReadMode, decode_image
    from torchvision.transforms.v2 import functional as TF

    ds = torchvision.datasets.ImageFolder(str(folder))
    xs = []
    for path, _ in ds.samples:
        try:
            img = decode_image(path, mode=ImageReadMode.RGB if channels != 1 else ImageReadMode.GRAY)
        except Exception as e:
            raise ValueError(f"Cannot read image {path} ({e}). Remove or replace the file.") from e
        if image_size is not None and tuple(img.shape[1:]) != tuple(image_size):
            img = TF.resize(img, list(image_size), antialias=True)
        xs.append(img)
    if not xs:
        raise DatasetNotFoundError(f"No images under {folder}.")
    shapes = {tuple(x.shape) for x in xs}
    if len(shapes) > 1:
        raise ValueError(f"Images under {folder} have different sizes {sorted(shapes)[:3]}...; "
                         f"pass image_size=(H, W) to resize them.")
    return ds.classes, torch.stack(xs), torch.tensor(ds.targets, dtype=torch.long)


def _load_cifar10(root: Path):
    import torchvision

    folder = root / "cifar10"
    looked = [folder / "train", root / "cifar-10-batches-py"]
    if (folder / "train").is_dir() and (folder / "test").is_dir():
        sets = {}
        for train, sub in ((True, "train"), (False, "test")):
            classes, x, y = _decode_image_folder(folder / sub)
            sets[train] = (x, y)
        return classes, sets, f"{folder} (ImageFolder PNG)"
    sets = {}
    for train in (True, False):
        if (root / "cifar-10-batches-py").is_dir():
            ds = torchvision.datasets.CIFAR10(str(root), train=train, download=False)
        else:
            ds = _download(lambda: torchvision.datasets.CIFAR10(str(root), train=train, download=True),
                           "CIFAR-10", looked,
                           "Allow the torchvision download, or set CGAN_DATA to a folder holding "
                           "cifar10/{train,test}/<class>/*.png or cifar-10-batches-py/.")
        sets[train] = (torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous(),
                       torch.tensor(ds.targets, dtype=torch.long))
        classes = list(ds.classes)
    return classes, sets, str(root / "cifar-10-batches-py")


def _load_svhn(root: Path):
    import torchvision

    sets = {}
    for train, split in ((True, "train"), (False, "test")):
        f = root / "svhn" / f"{split}_32x32.mat"
        if f.is_file():
            ds = torchvision.datasets.SVHN(str(root / "svhn"), split=split, download=False)
        else:
            ds = _download(lambda: torchvision.datasets.SVHN(str(root / "svhn"), split=split, download=True),
                           "SVHN", [f], "Allow the torchvision download (needs scipy), or put "
                           "train_32x32.mat and test_32x32.mat in <CGAN_DATA>/svhn/.")
        sets[train] = (torch.from_numpy(ds.data).contiguous(), torch.from_numpy(ds.labels).long())
    return [str(i) for i in range(10)], sets, str(root / "svhn")


def _load_bloodmnist(root: Path):
    try:
        import medmnist
    except ImportError as e:
        raise DatasetNotFoundError("bloodmnist needs the medmnist package: `pip install medmnist`.") from e
    d = root / "medmnist"
    d.mkdir(parents=True, exist_ok=True)
    sets = {}
    for train, split in ((True, "train"), (False, "test")):
        have = (d / "bloodmnist.npz").is_file()
        make = lambda: medmnist.BloodMNIST(split=split, root=str(d), download=not have)
        ds = make() if have else _download(make, "BloodMNIST", [d / "bloodmnist.npz"],
                                           "Allow the medmnist download or copy bloodmnist.npz there.")
        sets[train] = (torch.from_numpy(ds.imgs).permute(0, 3, 1, 2).contiguous(),
                       torch.from_numpy(ds.labels).flatten().long())
    classes = [medmnist.INFO["bloodmnist"]["label"][str(i)] for i in range(8)]
    return classes, sets, str(d)


def _load_folder(path: Path, image_size):
    if not (path / "train").is_dir() or not (path / "test").is_dir():
        raise DatasetNotFoundError(
            f"Folder dataset {path} needs train/<class>/<image> and test/<class>/<image> sub-folders.")
    sets = {}
    for train, sub in ((True, "train"), (False, "test")):
        classes, x, y = _decode_image_folder(path / sub, image_size)
        sets[train] = (x, y)
    return classes, sets, str(path)


def load_dataset(name: str, root: str | os.PathLike | None = None,
                 image_size: int | tuple | None = None, use_cache: bool = True) -> ImageData:
    """Load a named dataset (see the module docstring) into memory as uint8 tensors."""
    key_name = str(name).strip().lower()
    root = data_root(root)
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    if key_name.startswith("folder:"):
        fpath = Path(str(name).strip()[len("folder:"):]).expanduser().resolve()
        if image_size is None:
            image_size = (224, 224)
        loader = lambda: _load_folder(fpath, image_size)
        sig = {"path": str(fpath), "mtime": fpath.stat().st_mtime if fpath.exists() else 0,
               "size": list(image_size)}
        display = f"folder:{fpath.name}"
    else:
        loaders = {"fashion-mnist": _load_fashion_mnist, "cifar10": _load_cifar10,
                   "svhn": _load_svhn, "bloodmnist": _load_bloodmnist}
        aliases = {"fashionmnist": "fashion-mnist", "fmnist": "fashion-mnist",
                   "cifar-10": "cifar10", "blood-mnist": "bloodmnist"}
        key_name = aliases.get(key_name, key_name)
        if key_name not in loaders:
            raise UnknownDatasetError(f"Unknown dataset {name!r}. Known: {', '.join(DATASETS)}.")
        loader = lambda: loaders[key_name](root)
        sig = {"root": str(root.resolve()) if root.exists() else str(root)}
        display = key_name
    cpath = cache_dir() / "decoded" / f"{make_key('decoded', {'name': key_name, **sig})}.pt"
    if use_cache and cpath.is_file():
        d = load_checkpoint(cpath)
        data = ImageData(display, d["classes"], d["train_x"], d["train_y"], d["test_x"],
                         d["test_y"], d["source"])
    else:
        classes, sets, source = loader()
        data = ImageData(display, list(classes), sets[True][0], sets[True][1], sets[False][0],
                         sets[False][1], source)
        if use_cache:
            atomic_save({"classes": data.classes, "train_x": data.train_x, "train_y": data.train_y,
                         "test_x": data.test_x, "test_y": data.test_y, "source": data.source}, cpath)
    if image_size is not None and data.image_size != tuple(image_size):
        from torchvision.transforms.v2 import functional as TF
        data = replace(data, train_x=TF.resize(data.train_x, list(image_size), antialias=True),
                       test_x=TF.resize(data.test_x, list(image_size), antialias=True))
    return data


def load_profile_data(profile, dataset: str | None = None, root=None, seed: int = 0) -> ImageData:
    """The dataset of a profile (or ``dataset``), subset to the profile's sizes."""
    data = load_dataset(dataset or profile.dataset, root)
    return data.subset(profile.n_train, profile.n_test, seed)


def mean_std(x_uint8: torch.Tensor) -> tuple[list, list]:
    """Per-channel mean and std of uint8 images, as fractions of 255."""
    x = x_uint8.double() / 255.0
    return (x.mean(dim=(0, 2, 3)).tolist(), x.std(dim=(0, 2, 3)).tolist())
