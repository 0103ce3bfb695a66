"""Training checkpoints: one safetensors file, written atomically after every epoch.

Tensors (model, best-so-far model, optimizer state, the RNG state) go in the tensor table;
everything else (epoch, history, optimizer hyper-parameters, scheduler state) goes as JSON
in the file's metadata. One file means one atomic rename: a crash leaves the previous
checkpoint intact. Reading uses safetensors only: nothing is unpickled.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from aekit.errors import ModelFileError
from aekit.io.atomic import atomic_path, write_failed
from aekit.io.json_values import json_default

CHECKPOINT_NAME = "checkpoint.safetensors"
FORMAT = "aekit-checkpoint-1"


def _flatten_optimizer(state: dict):
    """Split ``optimizer.state_dict()`` into tensors and a JSON-able remainder."""
    tensors, scalars = {}, {}
    for pid, entry in state["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim/{pid}/{key}"] = value
            else:
                scalars[f"{pid}/{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict, meta: dict) -> dict:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        _, pid, key = name.split("/", 2)
        state.setdefault(int(pid), {})[key] = value
    for name, value in meta["scalars"].items():
        pid, key = name.split("/", 1)
        state.setdefault(int(pid), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(directory, *, model, optimizer, scheduler, generator, epoch: int,
                    history: list, best_state: dict | None, best_score: float,
                    extra: dict | None = None) -> Path:
    """Write ``directory/checkpoint.safetensors`` atomically; returns its path.

    A write fault (full disk: ``OSError`` or safetensors' ``SafetensorError``) raises an
    ``OSError`` naming the checkpoint file and leaves the previous checkpoint as it was.
    Folder and file get the modes a plain ``mkdir``/``open`` gives under the umask."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_failed(directory / CHECKPOINT_NAME, exc) from None
    tensors = {f"model/{k}": v for k, v in model.state_dict().items()}
    if best_state is not None:
        tensors.update({f"best/{k}": v for k, v in best_state.items()})
    opt_tensors, opt_meta = _flatten_optimizer(optimizer.state_dict())
    tensors.update(opt_tensors)
    tensors["rng/train"] = generator.get_state()
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    meta = {
        "format": FORMAT,
        "epoch": epoch,
        "history": history,
        "best_score": best_score if math.isfinite(best_score) else None,
        "optimizer": opt_meta,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "extra": extra or {},
    }
    path = directory / CHECKPOINT_NAME
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"aekit": json.dumps(meta, default=json_default)})
    pause_point_for_tests("checkpoint")
    return path


_reached_in_process: dict = {}


def pause_point_for_tests(name: str) -> None:
    """A handshake for crash tests, inert unless both variables are set (tests only).

    ``AEKIT_TEST_PAUSE_AT=NAME:N`` (``N`` alone means ``checkpoint:N``): the N-th time this
    process reaches point NAME, create ``$AEKIT_TEST_PAUSE_FILE.reached`` and wait until
    ``$AEKIT_TEST_PAUSE_FILE`` exists (at most 120 s). A test then signals the process at a
    known point instead of after a guessed delay. Points: ``checkpoint`` (the N-th
    checkpoint is complete, the next epoch not begun), ``step`` (after the N-th optimizer
    step of the process, mid-epoch), ``outputs`` (aekit train is writing its outputs).
    """
    at, flag = os.environ.get("AEKIT_TEST_PAUSE_AT"), os.environ.get("AEKIT_TEST_PAUSE_FILE")
    if not at or not flag:
        return
    point, _, count = at.rpartition(":")
    _reached_in_process[name] = _reached_in_process.get(name, 0) + 1
    if (point or "checkpoint") != name or str(_reached_in_process[name]) != count:
        return
    Path(flag + ".reached").write_text(str(os.getpid()))
    deadline = time.monotonic() + 120
    while not Path(flag).exists() and time.monotonic() < deadline:
        time.sleep(0.01)


def step_pause_hook():
    """``pause_point_for_tests("step")`` when a test asked for a step handshake, else None (the
    training loop calls it after each step only then: the step is hot)."""
    at = os.environ.get("AEKIT_TEST_PAUSE_AT", "")
    return (lambda: pause_point_for_tests("step")) if at.startswith("step:") else None


def load_checkpoint(path) -> dict:
    """Read a checkpoint file (or a folder holding one) into plain dicts of tensors/JSON."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise ModelFileError(f"{path}: no checkpoint found")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get("aekit")
        tensors = load_file(str(path))
        meta = json.loads(raw) if raw else None
    except (SafetensorError, OSError, ValueError, RecursionError) as exc:  # JSONDecodeError too
        raise ModelFileError(f"{path}: not a readable aekit checkpoint ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not an aekit checkpoint (format {FORMAT!r} expected)")

    def group(prefix):
        return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}

    try:
        return _checkpoint_parts(tensors, meta, group)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # valid JSON, wrong shape
        raise ModelFileError(f"{path}: damaged aekit checkpoint ({type(exc).__name__}: {exc})"
                             ) from None


def _checkpoint_parts(tensors: dict, meta: dict, group) -> dict:
    return {
        "model": group("model/"),
        "best": group("best/") or None,
        "optimizer": _unflatten_optimizer(
            {k: v for k, v in tensors.items() if k.startswith("optim/")}, meta["optimizer"]),
        "rng": tensors.get("rng/train"),
        "epoch": int(meta["epoch"]),
        "history": meta["history"],
        "best_score": meta["best_score"] if meta["best_score"] is not None else math.inf,
        "scheduler": meta["scheduler"],
        "extra": meta.get("extra", {}),
    }
