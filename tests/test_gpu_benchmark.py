"""benchmarks/gpu.py's logic, run on the CPU with --dry-run (tiny sizes): every workload in
fp32 and bf16, the bf16 decision, the deep model's PCA comparison, the results files."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from aekit.training import threads

ROOT = Path(__file__).resolve().parents[1]


def _load_script():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location("gpu_benchmark", ROOT / "benchmarks/gpu.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


@pytest.mark.slow
def test_dry_run_writes_every_workload_in_both_precisions(tmp_path, monkeypatch):
    monkeypatch.setenv(threads.ENV, "1")  # a busy CI machine must not stretch the conv runs
    gpu = _load_script()
    assert gpu.main(["--dry-run", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "gpu-dry-run.json").read_text())
    assert result["dry_run"] and result["n_train"] == 128
    names = [w["name"] for w in gpu.workloads(True)]
    assert [(r["workload"], r["precision"]) for r in result["rows"]] == \
        [(n, p) for n in names for p in ("fp32", "bf16")]
    for fp32, bf16 in zip(result["rows"][::2], result["rows"][1::2]):
        assert fp32["epochs"] == bf16["epochs"] == 2
        assert fp32["s_per_epoch"] > 0 and fp32["test_mse"] > 0
        assert bf16["use"] == (bf16["test_mse"] <= fp32["test_mse"] * 1.02)
        assert fp32["use"] != bf16["use"]
        assert fp32["syncs_per_step"] is None  # counted on CUDA only
    deep = [r for r in result["rows"] if "vs_pca" in r]
    assert len(deep) == 2 and all(r["vs_pca"] == r["test_mse"] / r["pca_mse"] for r in deep)
    text = (tmp_path / "gpu-dry-run.md").read_text()
    assert "dry run" in text
    for name in names:
        assert text.count(f"| {name} |") == 2


def test_without_cuda_the_full_run_says_so(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    gpu = _load_script()
    assert gpu.main(["--out", str(tmp_path)]) == 2
    assert "no CUDA device" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_bf16_precision_differs_from_fp32_under_autocast(tmp_path, monkeypatch):
    """The dry run really trains under autocast: bf16 changes the numbers."""
    import torch

    monkeypatch.setenv(threads.ENV, "1")
    gpu = _load_script()
    work = {"name": "dense", "model": {"hidden": (8,), "code_size": 4},
            "train": {"batch_size": 16, "lr": 1e-3, "epochs": 1}}
    X = torch.rand(64, 784)
    a = gpu.run_one(torch, work, "fp32", X, X[:16], "cpu")
    b = gpu.run_one(torch, work, "bf16", X, X[:16], "cpu")
    assert a["test_mse"] != b["test_mse"]
