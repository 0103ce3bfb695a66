"""What pyproject.toml admits is what CI tests."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _load_toml(path: Path) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    return tomllib.loads(path.read_text())


def test_the_torch_range_admits_only_the_tested_minor_version():
    deps = _load_toml(ROOT / "pyproject.toml")["project"]["dependencies"]
    torch = next(Requirement(d) for d in deps if Requirement(d).name == "torch")
    pinned = Version(re.search(r"^TORCH\s*\?=\s*torch==(\S+)", (ROOT / "Makefile").read_text(),
                               re.M).group(1))
    assert pinned in torch.specifier  # CI installs the Makefile's pin
    # nothing outside the pin's minor version is admitted (untested there)
    for other in ("2.1.0", "2.12.1", f"{pinned.major}.{pinned.minor + 1}.0", "3.0.0"):
        assert Version(other) not in torch.specifier, other
    import torch as installed

    assert Version(installed.__version__.split("+")[0]) in torch.specifier


@pytest.mark.slow
def test_the_wheel_ships_the_pretrained_models_and_the_latent_map_script(tmp_path):
    """Package data reaches the wheel: every pretrained model folder's files and the
    report's JavaScript (built from a copy, so the working tree gets no build/ folder)."""
    import subprocess
    import zipfile

    src = tmp_path / "src-copy"
    shutil.copytree(ROOT / "src", src / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(tmp_path / "dist")], check=True,
                   capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("aekit-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = ROOT / "src" / "aekit" / "pretrained"
    expected = {f"aekit/pretrained/{p.parent.parent.name}/{p.parent.name}/{p.name}"
                for p in [*shipped.glob("models/*/*"), *shipped.glob("codecs/*/*")]
                if p.suffix in (".json", ".safetensors") and not p.parent.name.startswith(".")}
    assert "aekit/pretrained/codecs/photo/model.safetensors" in expected
    assert expected and any(n.endswith("/provenance.json") for n in expected)
    assert expected <= names, sorted(expected - names)
    assert "aekit/report/latent_map.js" in names
