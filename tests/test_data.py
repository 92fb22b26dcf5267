
import pytest
import torch

from cgan_lib import data as D
from cgan_lib.profiles import PROFILES, UnknownProfileError, epsilon_for, get_profile

from conftest import SHARED_DATA


def test_fashion_mnist_is_real_and_complete(fmnist):
    assert fmnist.train_x.shape == (60000, 1, 28, 28)
    assert fmnist.test_x.shape == (10000, 1, 28, 28)
    assert fmnist.train_x.dtype == torch.uint8
    assert fmnist.n_classes == 10 and fmnist.classes[0] == "T-shirt/top"
    assert torch.bincount(fmnist.train_y).tolist() == [6000] * 10
    assert torch.bincount(fmnist.test_y).tolist() == [1000] * 10
    assert int(fmnist.train_x.max()) == 255 and int(fmnist.train_x.min()) == 0
    # the published mean of Fashion-MNIST's training set is 0.2860
    assert abs(fmnist.train_x.float().mean().item() / 255 - 0.2860) < 1e-3


def test_subsets_are_balanced_and_reproducible(fmnist):
    a = fmnist.subset(2000, 500, seed=3)
    b = fmnist.subset(2000, 500, seed=3)
    c = fmnist.subset(2000, 500, seed=4)
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_y, b.test_y)
    assert not torch.equal(a.train_x, c.train_x)
    assert torch.bincount(a.train_y).tolist() == [200] * 10
    assert torch.bincount(a.test_y).tolist() == [50] * 10
    assert len(fmnist.subset(None, None).train_x) == 60000


def test_stratified_indices_uneven_classes():
    y = torch.tensor([0] * 3 + [1] * 50 + [2] * 50)
    idx = D.stratified_indices(y, 30, seed=0)
    counts = torch.bincount(y[idx]).tolist()
    assert sum(counts) == 30 and counts[0] == 3 and abs(counts[1] - counts[2]) <= 1
    with pytest.raises(ValueError):
        D.stratified_indices(y, 0)


def test_second_load_is_cached(fmnist):
    import time
    t = time.time()
    again = D.load_dataset("fashion-mnist")
    assert time.time() - t < 2.0
    assert torch.equal(again.train_x[:100], fmnist.train_x[:100])


@pytest.mark.skipif(not (SHARED_DATA / "cifar10").is_dir(), reason="no ../shared/data/cifar10 here")
def test_cifar10_from_image_folder():
    d = D.load_dataset("cifar10", root=SHARED_DATA)
    assert d.train_x.shape == (50000, 3, 32, 32) and d.test_x.shape == (10000, 3, 32, 32)
    assert d.classes[:3] == ["airplane", "automobile", "bird"] and d.n_classes == 10
    mean = (d.train_x.double() / 255).mean(dim=(0, 2, 3))
    assert torch.allclose(mean, torch.tensor([0.49139968, 0.48215841, 0.44653091], dtype=torch.float64), atol=1e-6)


def test_missing_dataset_names_what_was_looked_for(tmp_path, monkeypatch, tmp_cache):
    monkeypatch.setattr(D, "DEBIAN_FASHION_MNIST", tmp_path / "nowhere")
    monkeypatch.setenv("CGAN_OFFLINE", "1")
    with pytest.raises(D.DatasetNotFoundError) as e:
        D.load_dataset("fashion-mnist", root=tmp_path / "empty")
    msg = str(e.value)
    assert "Fashion-MNIST not found" in msg and "dataset-fashion-mnist" in msg and "empty" in msg
    with pytest.raises(D.DatasetNotFoundError, match="CIFAR-10 not found"):
        D.load_dataset("cifar10", root=tmp_path / "empty")


def test_unknown_dataset():
    with pytest.raises(D.UnknownDatasetError, match="Known: fashion-mnist"):
        D.load_dataset("imagenet-1k")


def _png(path, size=(10, 12), mode="RGB", color=(200, 10, 10)):
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)


def test_folder_dataset_resizes_and_reports_unreadable(tmp_path, tmp_cache):
    for split in ("train", "test"):
        for cls, col in (("cat", (200, 0, 0)), ("dog", (0, 200, 0))):
            for i in range(3):
                _png(tmp_path / "ds" / split / cls / f"{i}.png", (20 + i, 16), color=col)
    d = D.load_dataset(f"folder:{tmp_path / 'ds'}", image_size=8)
    assert d.train_x.shape == (6, 3, 8, 8) and d.classes == ["cat", "dog"]
    assert d.train_y.tolist() == [0, 0, 0, 1, 1, 1]
    (tmp_path / "ds" / "train" / "cat" / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="bad.png"):
        D.load_dataset(f"folder:{tmp_path / 'ds'}", image_size=8, use_cache=False)
    with pytest.raises(D.DatasetNotFoundError, match="train/<class>"):
        D.load_dataset(f"folder:{tmp_path / 'nothing'}")


def test_profiles():
    assert set(PROFILES) == {"ci", "quick", "paper"}
    with pytest.raises(UnknownProfileError, match="Valid profiles: ci, quick, paper"):
        get_profile("fast")
    paper = get_profile("paper")
    # Appendix G: the paper's settings
    assert (paper.victim_epochs, paper.victim_lr, paper.gan_epochs_for("cifar10"), paper.gan_optimizer,
            paper.gan_lr, paper.alpha, paper.n_train) == (90, 0.025, 200, "sgd", 0.025, 0.001, None)
    # G.3: GAN epochs per dataset; eq. 3: f classifies G(x) itself
    assert paper.gan_epochs_for("bloodmnist") == 100 and paper.gan_epochs_for("svhn") == 200
    assert paper.gan_epochs_for("folder:/data/ImageNet25") == 5000
    assert paper.f_input == "raw" and paper.emn_lr == 0.003
    assert len(paper.seeds) >= 3 and len(get_profile("quick").seeds) >= 3
    assert len(get_profile("ci").seeds) >= 2
    assert epsilon_for("cifar10") == 8 / 255 and epsilon_for("svhn") == 8 / 255
    assert epsilon_for("fashion-mnist") == 16 / 255 and epsilon_for("bloodmnist") == 16 / 255
    assert "profile=ci" in get_profile("ci").summary(device="CPU")
    assert paper.departures == ()
    for p in PROFILES.values():
        if p.name != "paper":
            assert p.departures, f"{p.name} must say how it departs from the paper"
    # departures are computed from the fields: any changed constant shows up
    assert "victim epochs: 4 (paper: 90)" in get_profile("ci").departures
    assert "EMN outer lr: 0.1 (paper: 0.003)" in get_profile("ci").departures
    # a value the paper does not state is not put in its mouth
    ci = get_profile("ci").departures
    assert "batch size: 64 (paper: not stated; full scale: 128, Huang et al.'s)" in ci
    assert not any("(paper: 17)" in d or "(paper: 128)" in d for d in ci)
    wd = paper.replace(weight_decay=0.0).departures
    assert wd == ("weight decay: 0 (paper: not stated; full scale: 0.0005, Huang et al.'s)",), wd


def test_profile_from_environment(monkeypatch):
    monkeypatch.setenv("CGAN_PROFILE", "quick")
    assert get_profile().name == "quick"
    monkeypatch.setenv("CGAN_PROFILE", "nope")
    with pytest.raises(UnknownProfileError):
        get_profile()


def test_chapter_seeds_of_a_reduced_profile():
    from cgan_lib.profiles import PAPER
    q = PROFILES["quick"]
    assert q.seeds_for("04_transferability") == (0, 1)     # a costly chapter runs fewer seeds
    assert q.seeds_for("02_confoundergan") == (0, 1)
    assert q.seeds_for("01_class_wise_patches") == q.seeds == (0, 1, 2)  # the others: the profile's
    assert q.mix_ps == (0.9,) and PAPER.mix_ps == (0.5, 0.6, 0.7, 0.8, 0.9)
    assert q.seeds_for("08_countermeasures") == q.seeds_for("09_hardened_generator") == (0, 1)
    assert q.seeds_for("06_gradient_analysis") == (0, 1)
    assert q.seeds_for("07_denoiser_attack") == q.seeds
    # quick's grids of chapters 08 and 09, sized for one session from a cold cache
    assert q.countermeasures == ("none", "grayscale", "jpeg-10") and q.at_steps == 1
    assert q.cm_methods == ("natural", "emn", "confoundergan") and q.hardened_augs == ("flip+crop",)
    assert PAPER.cm_methods == ("natural", "cwn", "emn", "confoundergan")
    assert PAPER.hardened_augs == ("none", "flip+crop")
    assert PAPER.at_steps == 10 and set(q.countermeasures) < set(PAPER.countermeasures)
    assert PAPER.seeds_for("04_transferability") == PAPER.seeds
    assert any(d.startswith("seeds of the costliest chapters: chapter 02: 0, 1; chapter 03: 0, 1") for d in q.departures)
    assert not any("costliest" in d for d in PROFILES["ci"].departures)


def test_a_profile_with_a_grid_a_chapter_cannot_read_is_refused():
    from cgan_lib.profiles import PAPER
    with pytest.raises(ValueError, match="cm_methods must start with 'natural'"):
        PAPER.replace(cm_methods=("emn", "natural"))
    with pytest.raises(ValueError, match="hardened_augs must include 'flip\\+crop'"):
        PAPER.replace(hardened_augs=("none",))
