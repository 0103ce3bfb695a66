"""Fuzzing the readers: random bytes and mutated valid files must only ever raise AekitError.

Every reader aekit exposes to files from elsewhere (IDX, CSV, NPY/NPZ, image folders, model
folders, training checkpoints) gets (a) random bytes and (b) a valid file with random byte
edits, truncations and insertions. The property: the call either succeeds or raises
:class:`aekit.AekitError` (the documented error type); anything else -- ``zlib.error``,
``struct.error``, ``UnicodeDecodeError``, ``MemoryError`` from a lying header, Pillow's
``DecompressionBombError`` -- is a bug. Derandomized so CI sees the same examples every run.
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from aekit import AekitError
from aekit.datasets import load, read_idx, write_idx
from aekit.fitted import files as model_files
from aekit.loading import load as aekit_load
from aekit.models import ModelConfig, build_model
from aekit.training.checkpoint import load_checkpoint, save_checkpoint

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


@st.composite
def mutated(draw, data: bytes) -> bytes:
    """``data`` with a few random byte edits, then maybe an insertion and a truncation."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(0, len(out) - 1))
        out[pos] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, draw(st.integers(0, 255))]))
    if draw(st.booleans()):
        pos = draw(st.integers(0, len(out)))
        out[pos:pos] = draw(st.binary(min_size=1, max_size=16))
    if draw(st.booleans()):
        out = out[: draw(st.integers(0, len(out)))]
    return bytes(out)


def only_aekit_errors(fn, *args, **kwargs):
    """Call ``fn``; an AekitError is an accepted outcome, any other exception fails."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. Pillow's DecompressionBombWarning
            fn(*args, **kwargs)
    except AekitError as exc:
        assert str(exc), "an AekitError must carry a message"


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# --- IDX --------------------------------------------------------------------------------------
def _idx_bytes(compress: bool) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        path = write_idx(Path(d) / "x.idx", np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
                         compress=compress)
        return path.read_bytes()


IDX_RAW, IDX_GZ = _idx_bytes(False), _idx_bytes(True)


@FUZZ
@given(data=st.one_of(st.binary(max_size=64), mutated(IDX_RAW), mutated(IDX_GZ)))
def test_idx_reader(data):
    with tempfile.TemporaryDirectory() as d:
        path = write(Path(d), "t10k-images-idx3-ubyte", data)
        only_aekit_errors(read_idx, path)
        only_aekit_errors(load, path)


@FUZZ
@given(dims=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=4),
       code=st.sampled_from([0x08, 0x0B, 0x0E]), gz=st.booleans())
def test_idx_header_cannot_demand_memory_the_file_does_not_hold(dims, code, gz):
    # A 20-byte file claiming dims (4e9, 4e9) must be refused before allocating 16 EB.
    data = bytes([0, 0, code, len(dims)]) + np.asarray(dims, ">u4").tobytes() + b"\x01" * 8
    with tempfile.TemporaryDirectory() as d:
        path = write(Path(d), "x.idx", gzip.compress(data) if gz else data)
        only_aekit_errors(read_idx, path)


# --- CSV --------------------------------------------------------------------------------------
CSV_TEXT = b"a,b,c,label\n0,1,2,cat\n3,4.5,6,dog\n7,8,9e-1,cat\n"
csv_cells = st.sampled_from(["0", "1.5", "-2", "nan", "inf", "1e309", "", " ", "x", '"',
                             '"1,2"', "\x00", "\ufeff", "\u00e9", ";", "\t", "\r", "1_0"])


@st.composite
def csv_texts(draw) -> bytes:
    rows = draw(st.lists(st.lists(csv_cells, min_size=1, max_size=4), min_size=1, max_size=5))
    sep = draw(st.sampled_from([",", ";", "\t"]))
    return "\n".join(sep.join(r) for r in rows).encode("utf-8")


@FUZZ
@given(data=st.one_of(st.binary(max_size=64), mutated(CSV_TEXT), csv_texts()),
       label_column=st.sampled_from([None, 0, -1, "label"]),
       header=st.sampled_from([None, True, False]))
def test_csv_reader(data, label_column, header):
    with tempfile.TemporaryDirectory() as d:
        path = write(Path(d), "x.csv", data)
        only_aekit_errors(load, path, label_column=label_column, header=header)


# --- NPY / NPZ --------------------------------------------------------------------------------
def _np_bytes(save, array) -> bytes:
    buffer = io.BytesIO()
    save(buffer, array)
    return buffer.getvalue()


NPY = _np_bytes(np.save, np.arange(12, dtype=np.float32).reshape(3, 4) / 11)
NPY_IMAGES = _np_bytes(np.save, np.zeros((2, 1, 4, 4), np.uint8))
NPZ = _np_bytes(lambda f, a: np.savez_compressed(f, X=a, y=np.arange(3)), np.ones((3, 4)))


@FUZZ
@given(data=st.one_of(st.binary(max_size=160), mutated(NPY), mutated(NPY_IMAGES)),
       mmap=st.booleans())
def test_npy_reader(data, mmap):
    with tempfile.TemporaryDirectory() as d:
        only_aekit_errors(load, write(Path(d), "x.npy", data), mmap=mmap)


@FUZZ
@given(shape=st.lists(st.integers(0, 2**40), min_size=1, max_size=4),
       descr=st.sampled_from(["<f4", "|u1", "<f8", "|O", "<U3", "V8", "<c8"]))
def test_npy_header_cannot_demand_memory_the_file_does_not_hold(shape, descr):
    header = repr({"descr": descr, "fortran_order": False, "shape": tuple(shape)})
    header = (header + " " * (118 - len(header)) + "\n").encode("latin1")
    data = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\0" * 64
    with tempfile.TemporaryDirectory() as d:
        only_aekit_errors(load, write(Path(d), "x.npy", data))


@FUZZ
@given(data=st.one_of(st.binary(max_size=64), mutated(NPZ)))
def test_npz_reader(data):
    with tempfile.TemporaryDirectory() as d:
        only_aekit_errors(load, write(Path(d), "x.npz", data))


# --- images -----------------------------------------------------------------------------------
def _image_bytes(fmt: str, mode: str) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (6, 5), 128).save(buffer, format=fmt)
    return buffer.getvalue()


PNG, JPEG, PNG_RGB = _image_bytes("PNG", "L"), _image_bytes("JPEG", "L"), _image_bytes("PNG", "RGB")


@FUZZ
@given(data=st.one_of(st.binary(max_size=64), mutated(PNG), mutated(JPEG), mutated(PNG_RGB)),
       name=st.sampled_from(["a.png", "a.jpg"]), mode=st.sampled_from(["auto", "L", "RGB"]))
def test_image_folder_reader(data, name, mode):
    with tempfile.TemporaryDirectory() as d:
        write(Path(d), "imgs/cls/ok.png", PNG)
        write(Path(d), f"imgs/cls/{name}", data)
        only_aekit_errors(load, Path(d) / "imgs", mode=mode)


@FUZZ
@given(width=st.integers(1, 2**31 - 1), height=st.integers(1, 2**31 - 1))
def test_image_header_with_huge_size_is_refused(width, height):
    # A PNG whose IHDR claims a huge size (CRC fixed up, so the header itself is valid).
    import struct
    import zlib

    ihdr = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = PNG[:8] + struct.pack(">I", 13) + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + PNG[33:]
    with tempfile.TemporaryDirectory() as d:
        write(Path(d), "imgs/a.png", data)
        only_aekit_errors(load, Path(d) / "imgs")


# --- model folders and checkpoints ------------------------------------------------------------
def _model_folder() -> dict[str, bytes]:
    model = build_model(ModelConfig(6, hidden=(4,), code_size=2), seed=0)
    with tempfile.TemporaryDirectory() as d:
        path = model_files.save(Path(d) / "m", model, history=[{"epoch": 1, "loss": 0.5}])
        return {f.name: f.read_bytes() for f in path.iterdir()}


MODEL = _model_folder()
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=3),
    max_leaves=6)


@st.composite
def mutated_config(draw) -> bytes:
    """config.json with one value (at any depth) replaced by random JSON."""
    config = _replace_somewhere(draw, json.loads(MODEL["config.json"]))
    return json.dumps(config, allow_nan=True).encode()


@FUZZ
@given(config=st.one_of(st.just(MODEL["config.json"]), mutated(MODEL["config.json"]),
                        mutated_config(), st.binary(max_size=32)),
       weights=st.one_of(st.just(MODEL["model.safetensors"]), mutated(MODEL["model.safetensors"]),
                         st.binary(max_size=64)))
def test_model_folder_loader(config, weights):
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / "m"
        write(folder, "config.json", config)
        write(folder, "model.safetensors", weights)
        write(folder, "history.json", MODEL["history.json"])
        only_aekit_errors(aekit_load, folder)


def _checkpoint_bytes() -> bytes:
    model = build_model(ModelConfig(6, hidden=(4,), code_size=2), seed=0)
    opt = torch.optim.Adam(model.parameters())
    model(torch.rand(3, 6))["recon"].sum().backward()
    opt.step()
    with tempfile.TemporaryDirectory() as d:
        path = save_checkpoint(d, model=model, optimizer=opt, scheduler=None,
                               generator=torch.Generator(), epoch=1, history=[{"loss": 1.0}],
                               best_state=copy.deepcopy(model.state_dict()), best_score=1.0)
        return path.read_bytes()


CHECKPOINT = _checkpoint_bytes()


@FUZZ
@given(data=st.one_of(st.binary(max_size=64), mutated(CHECKPOINT)))
def test_checkpoint_loader(data):
    with tempfile.TemporaryDirectory() as d:
        only_aekit_errors(load_checkpoint, write(Path(d), "checkpoint.safetensors", data))


def test_the_unmutated_files_load(tmp_path):
    # Guards the fuzz tests above against vacuity: the seed files themselves are valid.
    for fname, data in MODEL.items():
        write(tmp_path / "m", fname, data)
    assert isinstance(aekit_load(tmp_path / "m").module, torch.nn.Module)
    assert load_checkpoint(write(tmp_path, "c.safetensors", CHECKPOINT))["epoch"] == 1
    assert read_idx(write(tmp_path, "x.idx", IDX_GZ)).shape == (2, 3, 4)
    csv = load(write(tmp_path, "x.csv", CSV_TEXT), label_column=-1, scale="minmax")
    assert csv.classes == ["cat", "dog"]
    assert load(write(tmp_path, "x.npz", NPZ)).X.shape == (3, 4)
    write(tmp_path, "imgs/a.jpg", JPEG)
    assert load(tmp_path / "imgs").image_shape == (1, 5, 6)


def _replace_somewhere(draw, value):
    """``value`` (parsed JSON) with one node, at any depth, replaced by random JSON."""
    keys, node = [], value
    while isinstance(node, dict) and node and draw(st.booleans()):
        keys.append(draw(st.sampled_from(sorted(node))))
        node = node[keys[-1]]
    if not keys:
        return draw(json_values)
    target = value
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = draw(json_values)
    return value


@st.composite
def mutated_checkpoint_metadata(draw) -> bytes:
    from safetensors import safe_open
    from safetensors.torch import save

    with tempfile.TemporaryDirectory() as d:
        path = write(Path(d), "c.safetensors", CHECKPOINT)
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads(f.metadata()["aekit"])
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    meta = _replace_somewhere(draw, meta)
    return save(tensors, metadata={"aekit": json.dumps(meta)})


@FUZZ
@given(data=mutated_checkpoint_metadata())
def test_checkpoint_loader_with_valid_json_of_the_wrong_shape(data):
    with tempfile.TemporaryDirectory() as d:
        only_aekit_errors(load_checkpoint, write(Path(d), "checkpoint.safetensors", data))


# --- CLI config files -------------------------------------------------------------------------
TOML = (b'model = "stacked"\ndata = "digits"\nepochs = 3\nhidden_layer_sizes = [16, 8]\n'
        b'learning_rate = 1e-3\nnoise = "gaussian"\nnoise_level = 0.1\n')
YAML = b"model: vae\ndata: digits\nepochs: 3\nbeta: 4.0\nhidden_layer_sizes: [16]\n"


@FUZZ
@given(data=st.one_of(st.binary(max_size=48), mutated(TOML), mutated(YAML)),
       suffix=st.sampled_from([".toml", ".yaml"]))
def test_config_file_reader(data, suffix):
    from aekit.cli import build_parser, options

    with tempfile.TemporaryDirectory() as d:
        path = write(Path(d), f"run{suffix}", data)
        args = build_parser().parse_args(["train", "--config", str(path), "--out", f"{d}/o"])
        only_aekit_errors(lambda: options.build_estimator(options.resolve_train_config(args)))


def test_the_unmutated_config_files_resolve(tmp_path):
    from aekit.cli import build_parser, options

    for name, data, model in (("a.toml", TOML, "stacked"), ("a.yaml", YAML, "vae")):
        args = build_parser().parse_args(["train", "--config", str(write(tmp_path, name, data)),
                                          "--out", str(tmp_path / "o")])
        resolved = options.resolve_train_config(args)
        assert resolved["model"] == model and resolved["params"]["epochs"] == 3
        options.build_estimator(resolved)
