"""Atomic writes: a failure in the middle of a save leaves the previous file intact.

Simulated faults: the disk fills up (``OSError(ENOSPC)``) while the tensors are written, the
final rename fails, or an unrelated exception (``KeyboardInterrupt``) arrives mid-write. After
each, the previous model folder / checkpoint loads and equals what was there before, and no
temporary file is left beside it.
"""

from __future__ import annotations

import errno
import os

import pytest
import torch

import aekit
from aekit.fitted import files as model_files
from aekit.io import atomic
from aekit.models import ModelConfig, build_model
from aekit.training import checkpoint as ckpt_mod
from aekit.training.checkpoint import load_checkpoint, save_checkpoint


def _disk_full(*args, **kwargs):
    path = args[1] if len(args) > 1 else kwargs.get("filename")
    with open(path, "wb") as f:  # half a file really reaches the disk first
        f.write(b"\0" * 100)
    raise OSError(errno.ENOSPC, "No space left on device")


def _interrupted(*args, **kwargs):
    raise KeyboardInterrupt


def _rename_fails(real):
    def replace(src, dst, *a, **k):
        raise OSError(errno.EIO, "Input/output error")
    return replace


FAULTS = {
    "disk_full": ("save_file", lambda real: _disk_full),
    "interrupt": ("save_file", lambda real: _interrupted),
    "rename_fails": ("replace", _rename_fails),
}


def _model(seed: int):
    return build_model(ModelConfig(6, hidden=(4,), code_size=2), seed=seed)


def _inject(monkeypatch, module, fault: str):
    name, make = FAULTS[fault]
    if name == "save_file":
        monkeypatch.setattr(module, "save_file", make(module.save_file))
    else:  # every os.replace the save does (atomic.py and model_files use the os module)
        monkeypatch.setattr(os, "replace", make(os.replace))


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_model_folder_survives_a_failed_save(tmp_path, monkeypatch, fault):
    old = _model(0)
    path = model_files.save(tmp_path / "model", old, history=[{"loss": 1.0}])
    before = {f.name: f.read_bytes() for f in path.iterdir()}

    _inject(monkeypatch, model_files, fault)
    with pytest.raises((OSError, KeyboardInterrupt)):
        model_files.save(path, _model(1), history=[{"loss": 2.0}])
    monkeypatch.undo()

    assert {f.name: f.read_bytes() for f in path.iterdir()} == before
    loaded = aekit.load(path).module
    for k, v in old.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v)
    assert _leftovers(tmp_path) == []


def _save_ckpt(folder, model, epoch):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    return save_checkpoint(folder, model=model, optimizer=opt, scheduler=None,
                           generator=torch.Generator().manual_seed(epoch), epoch=epoch,
                           history=[{"loss": 1.0}] * epoch, best_state=None,
                           best_score=float("inf"))


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_checkpoint_survives_a_failed_save(tmp_path, monkeypatch, fault):
    path = _save_ckpt(tmp_path, _model(0), epoch=3)
    before = path.read_bytes()

    _inject(monkeypatch, ckpt_mod, fault)
    with pytest.raises((OSError, KeyboardInterrupt)):
        _save_ckpt(tmp_path, _model(1), epoch=4)
    monkeypatch.undo()

    assert path.read_bytes() == before
    state = load_checkpoint(tmp_path)
    assert state["epoch"] == 3
    expected = _model(0).state_dict()
    assert state["model"].keys() == expected.keys()
    assert all(torch.equal(v, expected[k]) for k, v in state["model"].items())
    assert _leftovers(tmp_path) == []


def test_atomic_text_write_keeps_the_old_text_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    atomic.write_text_atomic(path, '{"old": 1}')
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(
        OSError(errno.ENOSPC, "No space left on device")))
    with pytest.raises(OSError, match="No space left"):
        atomic.write_text_atomic(path, '{"new": 2}')
    monkeypatch.undo()
    assert path.read_text() == '{"old": 1}'
    assert _leftovers(tmp_path) == []


def test_saving_over_a_file_is_refused_and_the_file_kept(tmp_path):
    path = tmp_path / "model"
    path.write_text("not a folder")
    with pytest.raises(aekit.ModelFileError, match="exists and is not a folder"):
        model_files.save(path, _model(0))
    assert path.read_text() == "not a folder"


# --- replacing a folder: one implementation, three writers ---------------------------------
def _fail_the_rename_in(monkeypatch):
    """os.replace fails (EIO) when it would move the new folder into place: after the old
    one was renamed aside, the worst moment."""
    import aekit.io.atomic as atomic

    real, calls = os.replace, []

    def replace(src, dst):
        calls.append((str(src), str(dst)))
        if len(calls) == 2:  # 1: the old folder aside, 2: the new one in
            raise OSError(errno.EIO, "Input/output error")
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace)
    return calls


def _write_model(folder):
    import numpy as np

    from aekit.estimators import StackedAutoencoder

    X = np.random.default_rng(0).random((40, 5), dtype=np.float32)
    StackedAutoencoder(n_components=2, hidden_layer_sizes=(4,), epochs=1).fit(X).save(folder)


def _write_report(folder):
    from aekit.report import Report

    r = Report("r")
    r.section("s").text("t")
    r.save(folder)


def _move_into(folder):
    from aekit.cli.outputs import move_into

    staging = folder.parent / "staging"
    (staging / "model").mkdir(parents=True)
    (staging / "model" / "x.json").write_text("new")
    move_into(staging, folder.parent)


WRITERS = {"model folder": _write_model, "report folder": _write_report,
           "train --resume's move_into": _move_into}


@pytest.mark.parametrize("writer", list(WRITERS))
def test_a_failed_folder_swap_puts_the_previous_folder_back(writer, tmp_path, monkeypatch):
    """aekit.io.atomic.swap_folder replaces model folders, report folders and a resumed
    run's outputs (once three copies; move_into's could lose the old folder). The rename in
    fails: the previous folder is back at its path, complete, and nothing is left aside."""
    folder = tmp_path / "model"
    WRITERS[writer](folder)
    before = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    calls = _fail_the_rename_in(monkeypatch)
    with pytest.raises(OSError, match="Input/output error"):
        WRITERS[writer](folder)
    assert len(calls) >= 2
    after = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert after == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".old")]
