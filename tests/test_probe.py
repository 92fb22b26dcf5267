"""scripts/hardened_probe.py: its setting names map onto the registry, and a bad name is named."""
import importlib.util
from pathlib import Path

import pytest

from cgan_lib import protections

_path = Path(__file__).resolve().parents[1] / "scripts" / "hardened_probe.py"
_spec = importlib.util.spec_from_file_location("hardened_probe", _path)
probe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(probe)


def test_settings_map_onto_registered_protections():
    assert probe.protection("linf") == ("hardened-texture-label-linf", {})
    assert probe.protection("linf-tile16") == ("hardened-texture-label-linf", {"tile": 16})
    for name in probe.SETTINGS:
        assert probe.protection(name)[0] in protections.PROTECTIONS


@pytest.mark.parametrize("bad", ["blur", "linf-tile", "linf-tilex"])
def test_unknown_setting_is_named_before_any_training(bad):
    with pytest.raises(ValueError, match=f"Unknown setting '{bad}'.*linf-tileN"):
        probe.main(["--settings", "natural", bad])
