"""Issue 28, class 8: say what happens.

- ``partial_fit`` after a fit whose cosine schedule has ended (learning rate 0) once changed
  nothing, silently; now each estimator with a cosine default trains on at learning_rate x
  0.1 and logs one warning, while a constant schedule goes on untouched and silent;
- a damaged entropy model is called damaged on load, never "quality too high";
- no string literal in the source doubles a verb or an article; messages composed from
  parts ("the stream is {what}", once "the stream is has trailing bytes") are checked
  where they are raised (tests/test_compression.py, tests/test_bounded_inputs.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import aekit
from aekit.errors import ModelFileError

X = np.random.default_rng(0).random((120, 10), dtype=np.float32)
COSINE = [  # estimators whose default schedule is cosine (lr 0 at its end)
    lambda **kw: aekit.StackedAutoencoder(epochs=2, hidden_layer_sizes=(8,), random_state=0,
                                          **kw),
    lambda **kw: aekit.LinearAutoencoder(n_components=3, solver="gradient", epochs=2,
                                         random_state=0, **kw),
]


def _weights(est):
    return [p.detach().clone() for p in est.module_.parameters()]


@pytest.mark.parametrize("make", COSINE, ids=["stacked", "linear"])
def test_partial_fit_past_a_cosine_schedule_trains_and_says_so(make, caplog):
    est = make().fit(X)
    assert est.history_[-1]["lr"] == 0.0 or len(est.history_) == 2
    for call in range(3):
        before = _weights(est)
        est.partial_fit(X)
        changed = max(float((a - b).abs().max()) for a, b in zip(before, _weights(est)))
        assert changed > 0, f"call {call}: the weights did not move"
        assert est.history_[-1]["lr"] == pytest.approx(est.learning_rate * 0.1)
    said = [r for r in caplog.records if "cosine learning-rate schedule" in r.getMessage()]
    assert len(said) == 1  # once, not every call


@pytest.mark.parametrize("make", COSINE, ids=["stacked", "linear"])
def test_partial_fit_with_a_constant_schedule_is_untouched(make, caplog):
    est = make(lr_schedule=None).fit(X)
    est.partial_fit(X)
    assert est.history_[-1]["lr"] == pytest.approx(est.learning_rate)
    assert not [r for r in caplog.records if "schedule" in r.getMessage()]


@pytest.mark.parametrize("factor", [1e4, 1e8, 1e12])
def test_a_damaged_entropy_model_is_called_damaged(factor):
    from aekit.fitted.entropy import EntropyModel

    est = aekit.VariationalAutoencoder(n_components=2, hidden_layer_sizes=(8,), epochs=2,
                                       random_state=0).fit(X)
    tensors = est.fitted_.entropy_model().to_tensors()
    tensors["entropy/quantiles"] = tensors["entropy/quantiles"] * factor
    with pytest.raises(ModelFileError, match="damaged file, not a quality setting"):
        EntropyModel.from_tensors(tensors, 2)


DOUBLED = re.compile(r"\b(is|are|has|the|a|an|of|to)\s+(is|are|has|have|the|a|an)\b")
SOURCE = Path(aekit.__file__).parent


def _messages():
    """The literal text of every string in the package's source (f-string parts included)."""
    import ast

    for path in sorted(SOURCE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                yield path.relative_to(SOURCE), node.lineno, node.value


def test_no_message_doubles_a_verb_or_an_article():
    found = []
    for path, line, text in _messages():
        for m in DOUBLED.finditer(text):
            if " ".join(m.group(0).split()).lower() not in ALLOWED:
                found.append(f"{path}:{line}: {m.group(0)!r}")
    assert not found, "\n".join(found)


# Phrases the pattern matches that are English: "is a", "has a", "of a", "to a", ...
ALLOWED = {f"{a} {b}" for a in ("is", "are", "has", "of", "to") for b in ("a", "an", "the")} | {
    "of the", "to the", "has the", "is the", "are the", "to have", "to be"}
