"""Model folders on disk: ``config.json`` + ``model.safetensors`` (+ ``history.json``).

Loading never unpickles and validates before allocating: the JSON config is size-limited
and checked field by field (including the parameter count, computed from sizes alone), then
the safetensors *header* is compared with the tensor names, shapes and dtypes the config
implies (a model built on the ``meta`` device, which allocates nothing). Only then are the
tensors read.

A folder is written next to its final place and swapped in with renames, so a failure
mid-save leaves the previous model intact.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from aekit.errors import AekitError, ModelFileError
from aekit.io.atomic import (apply_default_modes, is_write_fault, make_temp_dir,
                             swap_folder, write_failed)
from aekit.io.json_values import json_default
from aekit.models import build_model, config_from_dict

FORMAT = "aekit-model-1"
CONFIG_NAME, WEIGHTS_NAME, HISTORY_NAME = "config.json", "model.safetensors", "history.json"
MAX_CONFIG_BYTES = 10 * 2**20
MAX_HEADER_BYTES = 50 * 2**20
ALLOWED_DTYPES = {torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64}
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".joblib", ".bin", ".ckpt")


def save(path, model, *, extra_config: dict | None = None,
         extra_tensors: dict[str, torch.Tensor] | None = None,
         history: list | None = None) -> Path:
    """Write ``model`` (an aekit module) to the folder ``path``, replacing it atomically.

    ``extra_config`` adds JSON keys (e.g. ``"estimator"``, ``"objective"``); ``extra_tensors``
    adds tensors under an ``extra/`` prefix (e.g. a density fitted on the codes).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ModelFileError(f"{path}: exists and is not a folder; choose another output path")
    if path.is_dir() and not is_replaceable(path):
        raise ModelFileError(f"{path}: folder exists and is not an aekit model folder; aekit "
                             "replaces only its own model folders (choose another path, or "
                             "remove that folder yourself)")
    parent = path.parent
    if not parent.exists():
        parent.mkdir(parents=True, exist_ok=True)
    if not os.access(parent, os.W_OK):
        raise ModelFileError(f"{parent}: folder is not writable")
    config = {"format": FORMAT, "model": model.config.to_dict(), **(extra_config or {})}
    tensors = {f"model/{k}": v for k, v in model.state_dict().items()}
    tensors.update({f"extra/{k}": v for k, v in (extra_tensors or {}).items()})
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    try:  # mode 0o777 less the umask, like a plain mkdir (mkdtemp would give 0o700)
        tmp = make_temp_dir(parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise write_failed(path, exc) from None
    try:
        (tmp / CONFIG_NAME).write_text(json.dumps(config, indent=2, default=json_default))
        save_file(tensors, str(tmp / WEIGHTS_NAME), metadata={"format": FORMAT})
        if history is not None:
            (tmp / HISTORY_NAME).write_text(json.dumps(history, indent=1, default=json_default))
        apply_default_modes(tmp)  # safetensors creates its file 0o600, whatever the umask
        for f in tmp.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        swap_folder(tmp, path)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, Exception) and is_write_fault(exc):  # full disk: OSError or
            raise write_failed(path, exc) from None  # safetensors' SafetensorError
        raise
    return path


def is_replaceable(path: Path) -> bool:
    """True for an empty folder, or one aekit wrote as a model folder: its config.json
    names aekit's format and it holds nothing but the files aekit writes (a hidden
    staging folder of an interrupted save aside). Anything else may be a user's data."""
    entries = {p.name for p in path.iterdir()}
    if not entries:
        return True
    if entries - {CONFIG_NAME, WEIGHTS_NAME, HISTORY_NAME}:
        return False
    try:
        with open(path / CONFIG_NAME, "rb") as f:
            head = json.loads(f.read(MAX_CONFIG_BYTES))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(head, dict) and head.get("format") == FORMAT


# --- loading ---------------------------------------------------------------------------------
RUN_MODEL_SUBDIR = "model"  # ``aekit train --out RUN`` writes the model to RUN/model/


def resolve_folder(path) -> Path:
    """A model folder, or a run folder holding one in ``model/`` (as ``aekit train``
    writes): the folder that holds ``config.json``."""
    path = Path(path)
    inner = path / RUN_MODEL_SUBDIR
    if not (path / CONFIG_NAME).is_file() and (inner / CONFIG_NAME).is_file():
        return inner
    return path


def read_config(path) -> dict:
    """Validated JSON of a model folder (no tensors read)."""
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() in PICKLE_SUFFIXES:
            raise ModelFileError(
                f"{path}: aekit never loads pickle-based files ({path.suffix}); a model is a "
                f"folder with {CONFIG_NAME} and {WEIGHTS_NAME}")
        raise ModelFileError(f"{path}: a model is a folder with {CONFIG_NAME} and "
                             f"{WEIGHTS_NAME}, not a file")
    if not path.is_dir():
        raise ModelFileError(f"{path}: no such model folder")
    cfg_file = path / CONFIG_NAME
    for needed in (cfg_file, path / WEIGHTS_NAME):
        if not needed.is_file():
            raise ModelFileError(f"{path}: missing {needed.name}")
    if cfg_file.stat().st_size > MAX_CONFIG_BYTES:
        raise ModelFileError(f"{cfg_file}: larger than {MAX_CONFIG_BYTES} bytes; refused")
    try:
        config = json.loads(cfg_file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelFileError(f"{cfg_file}: could not be read ({exc})") from None
    # ValueError: UnicodeDecodeError, JSONDecodeError, and integers past Python's 4300-digit
    # limit; RecursionError: deep nesting
    except (ValueError, RecursionError) as exc:
        raise ModelFileError(f"{cfg_file}: not valid JSON ({exc})") from None
    fmt = config.get("format") if isinstance(config, dict) else None
    if fmt != FORMAT:
        version = _format_version(fmt)
        if version is not None and version > _format_version(FORMAT):
            raise ModelFileError(
                f"{cfg_file}: made by a newer aekit (format {fmt!r}); this aekit reads "
                f"{FORMAT!r}: upgrade aekit to load it")
        raise ModelFileError(f"{cfg_file}: not an aekit model config (format {FORMAT!r} expected)")
    return config


def _format_version(fmt) -> int | None:
    """N of a format name ``aekit-model-N``; None for anything else."""
    match = re.fullmatch(r"aekit-model-([1-9][0-9]{0,8})", fmt) if isinstance(fmt, str) else None
    return int(match.group(1)) if match else None


# What validating JSON of any shape can raise (a list where a name belongs: TypeError; a
# 5000-digit integer used as a float: OverflowError; an object missing a key: KeyError):
# the readers turn these, and AekitError, into a ModelFileError naming the file.
DAMAGE_ERRORS = (AekitError, ArithmeticError, AttributeError, LookupError, TypeError,
                 ValueError, RecursionError)


def describe(exc: BaseException) -> str:
    """One of DAMAGE_ERRORS in words (a KeyError's text alone is just the key)."""
    return f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)


def model_config(path, config: dict):
    try:
        return config_from_dict(config.get("model"))
    except DAMAGE_ERRORS as exc:
        raise ModelFileError(f"{Path(path) / CONFIG_NAME}: invalid model config: {exc}") from None


def _check_header(weights: Path, expected: dict[str, torch.Size]) -> None:
    """Compare the safetensors header with the expected names and shapes, reading no data."""
    try:
        size = weights.stat().st_size
        with open(weights, "rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise ModelFileError(f"{weights}: could not be read ({exc})") from None
    if len(head) < 8:
        raise ModelFileError(f"{weights}: truncated (no safetensors header)")
    n = int.from_bytes(head, "little")
    if n > MAX_HEADER_BYTES or 8 + n > size:
        raise ModelFileError(f"{weights}: header length {n} is invalid for a {size}-byte file "
                             "(truncated, or not a safetensors file)")
    try:
        with safe_open(str(weights), framework="pt") as f:
            found = {k: (f.get_slice(k).get_shape(), f.get_slice(k).get_dtype()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{weights}: not a valid safetensors file ({exc})") from None
    model_keys = {k for k in found if k.startswith("model/")}
    missing = set(expected) - model_keys
    unexpected = model_keys - set(expected)
    if missing or unexpected:
        raise ModelFileError(f"{weights}: tensors do not match config.json "
                             f"(missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]})")
    for k, shape in expected.items():
        got_shape, dtype = found[k]
        if list(got_shape) != list(shape):
            raise ModelFileError(f"{weights}: tensor {k!r} has shape {list(got_shape)} but "
                                 f"config.json implies {list(shape)}")
        if dtype not in ("F32", "F64", "F16", "BF16"):
            raise ModelFileError(f"{weights}: tensor {k!r} has dtype {dtype}; floats expected")


def load_module(path):
    """Rebuild the PyTorch module of a model folder. Returns ``(module, config, extra)``
    where ``extra`` holds the tensors saved under ``extra/``."""
    path = Path(path)
    config = read_config(path)
    mcfg = model_config(path, config)
    try:
        with torch.device("meta"):  # shapes only: nothing allocated
            expected = {f"model/{k}": v.shape for k, v in build_model(mcfg).state_dict().items()}
    except (*DAMAGE_ERRORS, RuntimeError) as exc:  # RuntimeError: torch refusing a size
        raise ModelFileError(f"{path / CONFIG_NAME}: {exc}") from None
    weights = path / WEIGHTS_NAME
    _check_header(weights, expected)
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(f"{weights}: could not be read ({exc})") from None
    model = build_model(mcfg)
    state = {k[len("model/"):]: v.float() for k, v in tensors.items() if k.startswith("model/")}
    for k, v in tensors.items():
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise ModelFileError(f"{weights}: tensor {k!r} holds NaN or Inf")
    model.load_state_dict(state)
    model.eval()
    extra = {k[len("extra/"):]: v for k, v in tensors.items() if k.startswith("extra/")}
    return model, config, extra


def read_history(path) -> list | None:
    """The training history (a list of per-epoch records), or None when there is none or
    it is unreadable: the history is optional, and a damaged one never stops a load."""
    f = Path(path) / HISTORY_NAME
    if not f.is_file() or f.stat().st_size > MAX_CONFIG_BYTES:
        return None
    # ValueError: JSONDecodeError, and integers past Python's 4300-digit limit
    with contextlib.suppress(OSError, UnicodeDecodeError, ValueError, RecursionError):
        h = json.loads(f.read_text(encoding="utf-8"))
        return h if isinstance(h, list) and all(isinstance(r, dict) for r in h) else None
    return None
