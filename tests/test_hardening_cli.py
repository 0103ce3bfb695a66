"""Bad input at the CLI: exit code 2, one line on stderr naming the problem, no traceback,
and no partial output left behind.

Most cases call ``aekit.cli.main`` in-process (an exception escaping ``main`` is what would
print a traceback); one test runs the real ``python -m aekit`` to check the stderr text.
Each id is also a row of docs/errors.md.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aekit.cli import build_parser, main

ERRORS_DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"
SUBCOMMANDS = build_parser()._subparsers._group_actions[0].choices
needs = {name: pytest.mark.skipif(name not in SUBCOMMANDS, reason=f"aekit {name} not built yet")
         for name in ("train", "evaluate", "encode", "decode", "generate")}
TRAIN = ["train", "--model", "stacked", "--epochs", "1", "--hidden-layer-sizes", "8",
         "--n-components", "2", "--no-report"]
RNG = np.random.default_rng(0)
X = RNG.random((40, 16)).astype(np.float32)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    from aekit.estimators import StackedAutoencoder

    path = tmp_path_factory.mktemp("model") / "model"
    StackedAutoencoder(2, hidden_layer_sizes=(8,), epochs=1, random_state=0).fit(X).save(path)
    return path


def _files(t: Path, model: Path | None) -> dict:
    """Input files the cases refer to, created in ``t``."""
    (t / "bad.csv").write_text("a,b\n1,2\n3,abc\n")
    np.save(t / "nan.npy", np.where(X > 0.9, np.nan, X))
    np.save(t / "narrow.npy", X[:, :5])
    np.save(t / "ok.npy", X)
    np.save(t / "codes3.npy", RNG.random((4, 3)).astype(np.float32))
    (t / "a-file").write_text("x")
    (t / "unknown.toml").write_text('model = "stacked"\ndata = "digits"\nlearnig_rate = 0.1\n')
    (t / "broken.toml").write_text('model = "stacked\n')
    (t / "wrongtype.toml").write_text('model = "stacked"\ndata = "digits"\nepochs = "ten"\n')
    (t / "pyobj.yaml").write_text('model: !!python/object/apply:os.system ["touch pwned"]\n')
    return {"t": t, "model": model}


# (id, argv builder, stderr pattern, folder that must not exist afterwards or None)
CASES = [
    ("cli-missing-data", lambda f: [*TRAIN, "--data", f"{f['t']}/nope.npy", "--out",
                                    f"{f['t']}/out"], r"nope\.npy: no such file", "out"),
    ("cli-non-numeric-csv", lambda f: [*TRAIN, "--data", f"{f['t']}/bad.csv", "--out",
                                       f"{f['t']}/out"],
     r"bad\.csv: row 3, column 2: 'abc' is not a number", "out"),
    ("cli-nan-data", lambda f: [*TRAIN, "--data", f"{f['t']}/nan.npy", "--out", f"{f['t']}/out"],
     r"nan\.npy: \d+ NaN/Inf value", "out"),
    ("cli-unknown-model", lambda f: ["train", "--model", "gan", "--data", "digits", "--out",
                                     f"{f['t']}/out"], r"gan", "out"),
    ("cli-unknown-optimizer", lambda f: [*TRAIN, "--optimizer", "lbfgs", "--data", "digits",
                                         "--out", f"{f['t']}/out"], r"lbfgs", "out"),
    ("cli-unknown-activation", lambda f: [*TRAIN, "--activation", "swish", "--data", "digits",
                                          "--out", f"{f['t']}/out"], r"swish", "out"),
    ("cli-negative-epochs", lambda f: [*TRAIN, "--epochs", "-1", "--data", "digits", "--out",
                                       f"{f['t']}/out"], r"epochs.*-1", "out"),
    ("cli-wrong-image-shape", lambda f: ["train", "--model", "conv", "--epochs", "1",
                                         "--no-report", "--image-shape", "7,7", "--data",
                                         "digits", "--out", f"{f['t']}/out"],
     r"image_shape \(1, 7, 7\) has 49 values but X has 64 features per row", "out"),
    ("cli-out-is-a-file", lambda f: [*TRAIN, "--data", "digits", "--out", f"{f['t']}/a-file"],
     r"a-file: exists and is not a folder", None),
    ("cli-out-under-a-file", lambda f: [*TRAIN, "--data", "digits", "--out",
                                        f"{f['t']}/a-file/run"], r"a-file.* is not a folder",
     None),
    ("cli-config-unknown-key", lambda f: [*TRAIN[:1], "--config", f"{f['t']}/unknown.toml",
                                          "--out", f"{f['t']}/out"],
     r"'learnig_rate': unknown key", "out"),
    ("cli-config-malformed", lambda f: [*TRAIN[:1], "--config", f"{f['t']}/broken.toml",
                                        "--out", f"{f['t']}/out"], r"not valid TOML", "out"),
    ("cli-config-wrong-type", lambda f: [*TRAIN[:1], "--config", f"{f['t']}/wrongtype.toml",
                                         "--out", f"{f['t']}/out"], r"epochs.*ten", "out"),
    ("cli-config-yaml-code", lambda f: [*TRAIN[:1], "--config", f"{f['t']}/pyobj.yaml",
                                        "--out", f"{f['t']}/out"], r"not valid YAML", "out"),
    ("cli-evaluate-not-a-model", lambda f: ["evaluate", str(f["t"]), "--data", "digits"],
     r"missing config\.json", None),
    ("cli-encode-n-features", lambda f: ["encode", str(f["model"]), "--input",
                                         f"{f['t']}/narrow.npy", "--out", f"{f['t']}/c.npy"],
     r"narrow\.npy: rows have 5 values but the model expects 16", "c.npy"),
    ("cli-decode-code-size", lambda f: ["decode", str(f["model"]), "--codes",
                                        f"{f['t']}/codes3.npy", "--out", f"{f['t']}/r.npy"],
     r"3 .* 2", "r.npy"),
    ("cli-generate-pickle", lambda f: ["generate", f"{f['t']}/model.pt", "--out",
                                       f"{f['t']}/s.npy"], r"never loads pickle", "s.npy"),
    ("cli-encode-out-format", lambda f: ["encode", str(f["model"]), "--input",
                                         f"{f['t']}/ok.npy", "--out", f"{f['t']}/c.parquet"],
     r"parquet", "c.parquet"),
]


@pytest.mark.parametrize("case, argv, pattern, absent", CASES, ids=[c[0] for c in CASES])
def test_cli_bad_input_exits_2_with_one_line(tmp_path, capsys, model_dir, case, argv, pattern,
                                             absent):
    args = argv(_files(tmp_path, model_dir))
    if args[0] not in SUBCOMMANDS:
        pytest.skip(f"aekit {args[0]} not built yet")
    (tmp_path / "model.pt").write_bytes(b"\x80\x04K\x01.")  # a pickle of the number 1
    before = set(os.listdir(tmp_path))
    code = main(args)
    err = capsys.readouterr().err.strip()
    assert code == 2, f"{case}: exit code {code}, stderr {err!r}"
    assert len(err.splitlines()) == 1, f"{case}: stderr is not one line: {err!r}"
    assert err.startswith(f"aekit {args[0]}: error: ")
    assert re.search(pattern, err), f"{case}: {err!r} does not match {pattern!r}"
    assert set(os.listdir(tmp_path)) == before, "partial output left behind"
    assert absent is None or not (tmp_path / absent).exists()
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_every_cli_case_is_in_the_docs_table():
    text = ERRORS_DOC.read_text()
    missing = [case for case, *_ in CASES if f"`{case}`" not in text]
    assert not missing, f"docs/errors.md lacks rows for {missing}"


@needs["train"]
@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to any folder")
def test_unwritable_output_folder(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    code = main([*TRAIN, "--data", "digits", "--out", str(locked / "run")])
    err = capsys.readouterr().err
    assert code == 2 and re.search(r"locked.* not writable", err), err
    assert list(locked.iterdir()) == []


@pytest.mark.slow  # a fresh interpreter: about 20 s on a loaded 2-core machine
@needs["train"]
def test_real_process_prints_no_traceback(tmp_path):
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,abc\n")
    proc = subprocess.run(
        [sys.executable, "-m", "aekit", *TRAIN, "--data", str(tmp_path / "bad.csv"), "--out",
         str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"aekit train: error: {tmp_path / 'bad.csv'}: row 3, column 2: 'abc' is not a number"]
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
@pytest.mark.parametrize("argv", [
    [*TRAIN, "--data", "digits", "--out", "/proc/aekit-test/run"],
    ["encode", "MODEL", "--input", "DATA", "--out", "/proc/aekit-codes.npy"],
], ids=["train", "encode"])
def test_output_where_nothing_can_be_written(tmp_path, capsys, model_dir, argv):
    # /proc refuses new files even for root, so this runs where chmod-based tests cannot.
    np.save(tmp_path / "ok.npy", X)
    args = [str(model_dir) if a == "MODEL" else str(tmp_path / "ok.npy") if a == "DATA" else a
            for a in argv]
    if args[0] not in SUBCOMMANDS:
        pytest.skip(f"aekit {args[0]} not built yet")
    code = main(args)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "/proc/aekit-" in err, err
    assert ".tmp" not in err, "the message names the file asked for, not a temporary one"
