"""Model folders of every kind written before the kinds got their own types (issue 29;
tests/fixtures/models_v2, made by scripts/make_compat_fixtures.py at the commit its
reference.json names) still load and give the outputs they gave then."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import aekit

FIXTURES = Path(__file__).parent / "fixtures" / "models_v2"
REFERENCE = json.loads((FIXTURES / "reference.json").read_text())["models"]
# Kinds added after these folders were written (they have no folder of that time).
ADDED_SINCE = {"VQVAE"}


def test_every_kind_has_a_folder():
    """Every kind with a network and files of its own (a kind declared like= another
    shares that kind's) that existed then has a folder here."""
    from aekit.kinds import KINDS

    kinds = {type(aekit.load(FIXTURES / name)).__name__ for name in REFERENCE}
    assert kinds == {k.estimator for k in KINDS if k.like is None} - ADDED_SINCE


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_folder_loads_and_reproduces_its_outputs(name, load_script, reproduces):
    ref = REFERENCE[name]
    make = load_script("make_compat_fixtures")
    rows = make.scenes()[0] if ref["data"] == "scenes" else make.digits()[0]
    reproduces(aekit.load(FIXTURES / name), rows[:make.ROWS[ref["data"]]], ref,
               score_rtol=1e-5)
