"""Never write over what aekit did not create: every file-writing subcommand refuses an
existing --out/--png unless --force, and never writes over an input of the same command."""

from __future__ import annotations

import numpy as np
import pytest

from aekit.cli import main


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("r") / "run"
    assert main(["train", "--model", "stacked", "--data", "digits", "--max-rows", "100",
                 "--epochs", "1", "--n-components", "2", "--hidden-layer-sizes", "8",
                 "--random-state", "0", "--no-report", "--out", str(out)]) == 0
    return out


def _one_line(capsys, *words):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and all(w in err[0] for w in words), err
    return err[0]


def _commands(run, tmp_path, target):
    """Every subcommand that writes a file, writing ``target`` (suffix chosen per command)."""
    codes = tmp_path / "codes.npy"
    np.save(codes, np.zeros((3, 2), np.float32))
    stem = target.with_suffix("")
    return {
        "encode": ["encode", str(run), "--data", "digits", "--out", str(stem) + ".npy"],
        "decode": ["decode", str(run), "--codes", str(codes), "--out", str(stem) + ".npy"],
        "decode-png": ["decode", str(run), "--codes", str(codes), "--out",
                       str(tmp_path / "fresh.npy"), "--png", str(stem) + ".png"],
        "generate": ["generate", str(run), "-n", "2", "--out", str(stem) + ".csv"],
        "interpolate": ["interpolate", str(run), "--data", "digits", "--pair", "0", "1",
                        "--out", str(stem) + ".png"],
        "evaluate": ["evaluate", str(run), "--data", "digits", "--iw-samples", "2", "--out",
                     str(stem) + ".json"],
        "report": ["report", str(run), "--data", "digits", "--self-contained", "--out",
                   str(stem) + ".html", "--fit-rows", "50", "--eval-rows", "30"],
    }


@pytest.mark.parametrize("command", ["encode", "decode", "decode-png", "generate",
                                     "interpolate", "evaluate", "report"])
def test_an_existing_output_is_refused_without_force_and_replaced_with_it(
        run, tmp_path, capsys, command):
    argv = _commands(run, tmp_path, tmp_path / "mine")[command]
    target = next(tmp_path / a.split("/")[-1] for a in argv if "/mine." in a)
    target.write_text("the user's own file")
    assert main(argv) == 2
    _one_line(capsys, "exists", "--force")
    assert target.read_text() == "the user's own file"
    assert main([*argv, "--force"]) == 0
    assert target.read_bytes() != b"the user's own file"


def test_an_input_is_never_an_output_even_with_force(run, tmp_path, capsys):
    data = tmp_path / "data.csv"
    np.savetxt(data, np.random.default_rng(0).random((5, 64)), delimiter=",")
    before = data.read_bytes()
    for extra in ([], ["--force"]):
        assert main(["encode", str(run), "--input", str(data), "--out", str(data),
                     *extra]) == 2
        _one_line(capsys, "input of this command")
        assert data.read_bytes() == before
    codes = tmp_path / "codes.npy"
    np.save(codes, np.zeros((3, 2), np.float32))
    assert main(["decode", str(run), "--codes", str(codes), "--out", str(codes),
                 "--force"]) == 2
    _one_line(capsys, "input of this command")
