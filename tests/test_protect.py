import numpy as np
import pytest
import torch
from PIL import Image

from cgan_lib.cli import main
from cgan_lib.gan import NotAGeneratorError, save_generator
from cgan_lib.models import Generator
from cgan_lib.protect import protect_folder


@pytest.fixture
def generator(tmp_path):
    torch.manual_seed(0)
    G = Generator(3, 8 / 255, width=8)
    G.eval()
    meta = dict(dataset="cifar10", classes=[str(i) for i in range(10)], channels=3,
                image_size=[32, 32], eps=8 / 255, n_train=10)
    return save_generator(G, tmp_path / "G.pt", meta)


@pytest.fixture
def photos(tmp_path):
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (40, 52, 3), dtype=np.uint8)).save(d / "rgb.jpg", quality=95)
    Image.fromarray(rng.integers(0, 255, (17, 23, 4), dtype=np.uint8), "RGBA").save(d / "alpha.png")
    Image.fromarray(rng.integers(0, 255, (30, 30), dtype=np.uint8), "L").save(d / "sub" / "gray.png")
    Image.fromarray(rng.integers(0, 65535, (20, 21), dtype=np.uint16)).save(d / "deep16.png")
    (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (d / "notes.txt").write_text("not an image")
    return d


def test_protect_folder(generator, photos, tmp_path):
    before = {p: p.read_bytes() for p in photos.rglob("*") if p.is_file()}
    out = tmp_path / "out"
    rep = protect_folder(generator, photos, out, progress=False)
    assert sorted(p.name for p in rep.written) == ["alpha.png", "deep16.png", "gray.png", "rgb.png"]
    assert {p.name for p, _ in rep.skipped} == {"broken.png", "notes.txt"}
    assert any("unreadable" in why for _, why in rep.skipped)
    assert {p.name for p, *_ in rep.converted} == {"gray.png", "deep16.png"}
    for p, data in before.items():                     # inputs untouched
        assert p.read_bytes() == data
    src = np.asarray(Image.open(photos / "alpha.png")).astype(int)
    dst = np.asarray(Image.open(out / "alpha.png")).astype(int)
    assert dst.shape == src.shape                       # size and alpha kept
    assert (dst[..., 3] == src[..., 3]).all()
    assert np.abs(dst[..., :3] - src[..., :3]).max() <= 8 + 1   # eps = 8/255, rounding
    g = Image.open(out / "sub" / "gray.png")
    assert g.mode == "RGB" and g.size == (30, 30)
    # a second run does not overwrite what exists
    rep2 = protect_folder(generator, photos, out, progress=False)
    assert not rep2.written and any("exists" in why for _, why in rep2.skipped)


def test_protect_refuses_bad_inputs(generator, photos, tmp_path):
    with pytest.raises(ValueError, match="never overwrites"):
        protect_folder(generator, photos, photos, progress=False)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        protect_folder(generator, tmp_path / "nope", tmp_path / "o", progress=False)
    torch.save({"state_dict": {}}, tmp_path / "classifier.pt")
    with pytest.raises(NotAGeneratorError):
        protect_folder(tmp_path / "classifier.pt", photos, tmp_path / "o", progress=False)


def test_protect_cli(generator, photos, tmp_path, capsys):
    rc = main(["protect", "--generator", str(generator), str(photos), str(tmp_path / "cli"), "--quiet"])
    out = capsys.readouterr()
    assert rc == 0 and "protected 4 image(s)" in out.out and "broken.png" in out.err
    rc = main(["protect", "--generator", str(tmp_path / "missing.pt"), str(photos), str(tmp_path / "x")])
    assert rc == 2 and "No checkpoint" in capsys.readouterr().err


def test_sample_photo_folder_and_quality(generator, tmp_path):
    pytest.importorskip("skimage")
    from cgan_lib.protect import SAMPLE_PHOTOS, image_quality, sample_photo_folder
    made = sample_photo_folder(tmp_path / "photos", names=["chelsea", "coins"])
    assert set(made) == {"chelsea.png", "coins-16bit.png", "broken.jpg", "notes.txt"}
    assert Image.open(tmp_path / "photos" / "coins-16bit.png").mode == "I;16"
    assert Image.open(tmp_path / "photos" / "chelsea.png").mode == "RGBA"
    rep = protect_folder(generator, tmp_path / "photos", tmp_path / "out", progress=False)
    assert sorted(p.name for p in rep.written) == ["chelsea.png", "coins-16bit.png"]
    assert {p.name for p, _ in rep.skipped} == {"broken.jpg", "notes.txt"}
    assert set(rep.seconds) == set(rep.written) and "per image" in rep.summary()
    q = image_quality(tmp_path / "photos" / "chelsea.png", tmp_path / "out" / "chelsea.png")
    assert q["linf_255"] <= 8 + 0.5 and 20 < q["psnr_db"] < 80 and 0 < q["ssim"] <= 1
    same = image_quality(tmp_path / "photos" / "chelsea.png", tmp_path / "photos" / "chelsea.png")
    assert same["psnr_db"] == float("inf") and same["linf_255"] == 0
    with pytest.raises(ValueError, match="differ in size"):
        image_quality(tmp_path / "photos" / "chelsea.png", tmp_path / "out" / "coins-16bit.png")
    assert "astronaut" in SAMPLE_PHOTOS


def test_missing_shipped_generator_says_how_to_get_one(tmp_path):
    from cgan_lib.shipped import ShippedGeneratorMissing, shipped_path
    with pytest.raises(ShippedGeneratorMissing, match="--generator"):
        shipped_path(tmp_path)


def test_shipped_generator_loads_protects_and_matches_its_card(tmp_path):
    from cgan_lib import shipped
    from cgan_lib.gan import load_generator
    path = shipped.shipped_path()                     # committed with the package
    G = load_generator(path, device="cpu")            # torch.load(weights_only=True) inside
    card = shipped.card_data()
    assert G.meta["dataset"] == card["dataset"] == "cifar10" and G.channels == 3
    assert round(G.eps * 255) == card["eps_255"] == 8
    assert path.stat().st_size < 20e6                 # "a few MB"
    # the model card is rendered from the measurements, never edited by hand
    assert (path.parent / "README.md").read_text() == shipped.model_card(card)
    assert set(card["victim_test_acc"]) == {"natural, none", "protected, none",
                                            "natural, flip+crop", "protected, flip+crop"}
    d = tmp_path / "in"
    d.mkdir()
    Image.fromarray(np.full((40, 60, 3), 128, np.uint8)).save(d / "grey.png")
    assert main(["protect", str(d), str(tmp_path / "out"), "--quiet"]) == 0   # no --generator
    out = np.asarray(Image.open(tmp_path / "out" / "grey.png")).astype(int)
    assert out.shape == (40, 60, 3) and np.abs(out - 128).max() <= 8


def test_card_words_departures_as_the_profile_does_now_only_for_the_same_settings():
    from cgan_lib import shipped
    d = shipped.card_data()
    old = [x.split(" (paper: ")[0] + " (paper: 128)" if x.startswith("batch size") else x
           for x in d["departures"]]
    now = shipped.departure_lines({**d, "departures": old})
    assert "batch size: 64 (paper: not stated; full scale: 128, Huang et al.'s)" in now
    changed = [x.replace("victim epochs: 10", "victim epochs: 12") for x in old]
    assert shipped.departure_lines({**d, "departures": changed}) == changed   # other settings: as stored
    assert shipped.departure_lines({**d, "profile": "gone", "departures": old}) == old
