"""What pyproject.toml admits is what CI tests."""

from __future__ import annotations

import re
import sys
from pathlib import Path

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
