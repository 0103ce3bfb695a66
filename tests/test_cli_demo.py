"""`aekit demo`: the README's first command, end to end on the embedded digits."""

import json

import pytest

from aekit.cli import main


@pytest.mark.slow
def test_demo_writes_figures_and_compares_with_pca(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--epochs", "15"]) == 0
    printed = capsys.readouterr().out
    assert "PCA (k=8)" in printed and "stacked autoencoder" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["pca"]["code_size"] == 8
    # Even a short run of the stacked AE beats PCA at the same code size on digits.
    assert metrics["autoencoder"]["mse"] < metrics["pca"]["mse"]
    for name in ("reconstructions.png", "codes.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "model" / "model.safetensors").is_file()


def test_demo_rejects_an_output_path_that_is_a_file(tmp_path, capsys):
    target = tmp_path / "taken"
    target.write_text("not a folder")
    assert main(["demo", "--out", str(target), "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a folder" in err[0]
