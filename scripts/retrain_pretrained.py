"""Retrain the pretrained models shipped in ``aekit/pretrained/models/``.

    python scripts/retrain_pretrained.py                       # all of them
    python scripts/retrain_pretrained.py --only digits-vae-2   # one (repeatable)
    python scripts/retrain_pretrained.py --commit HEAD         # with a commit's code

Each model is trained by the ``aekit train`` command recorded in ``MODELS`` below, run as a
child process exactly as a user would type it (``--out`` a temporary run folder), so the
command in each provenance record is the one that made the weights. Every option the
model relies on is passed explicitly (output activation, loss, likelihood, schedule,
seed, ...), so a later change of an estimator default cannot change what the command
means. The run's ``model/`` folder (config.json + model.safetensors + history.json) is
copied into ``--dest/NAME/`` beside a ``provenance.json``: the command, the commit and
whether the working tree had changes, the library versions, the training time, the test
metrics ``aekit train`` measured on the full test split, and the SHA-256 of each file.
The new folder is swapped in only when complete.

Budgets are modest (a few CPU minutes each on one thread, on a machine shared with other
work); see the ``epochs`` of each command. tests/test_pretrained.py reloads every model
and reproduces its recorded test MSE.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEST = ROOT / "src" / "aekit" / "pretrained" / "models"
MODEL_FILES = ("config.json", "model.safetensors", "history.json")
OUT_PLACEHOLDER = "RUN"  # the run folder in the recorded command

# Options every run shares: one thread (the same arithmetic on any machine with the same
# torch), every test row evaluated, no HTML report (the models ship without one).
COMMON = ["--threads", "1", "--eval-rows", "10000", "--no-report", "--random-state", "0",
          "--optimizer", "adam", "--weight-decay", "0", "--validation-fraction", "0",
          "--engine", "auto"]
# A plain autoencoder on pixel intensities in [0, 1]: sigmoid output, MSE loss, no noise
# or penalties, a GMM over the training codes for sampling.
PLAIN = ["--output-activation", "sigmoid", "--loss", "mse", "--noise", "none",
         "--sparsity", "none", "--contractive", "0", "--sampler", "gmm",
         "--sampler-components", "10"]
# A VAE with a Bernoulli decoder (sigmoid output) and beta = 1: the ELBO of Kingma & Welling.
VAE = ["--architecture", "dense", "--likelihood", "bernoulli", "--beta", "1",
       "--kl-warmup-epochs", "0", "--activation", "relu", "--lr-schedule", "none",
       "--warmup-epochs", "0"]

MODELS = {
    "fashion-mnist-stacked-30": dict(
        description="Fashion-MNIST, dense stacked autoencoder 784-256-30-256-784 (relu, "
                    "linear code, sigmoid output), MSE",
        args=["--model", "stacked", "--data", "fashion-mnist", "--hidden-layer-sizes", "256",
              "--n-components", "30", "--activation", "relu", "--code-activation", "linear",
              "--no-tied", "--pretraining", "none", *PLAIN, "--epochs", "15",
              "--batch-size", "128", "--learning-rate", "0.005", "--lr-schedule", "cosine",
              "--warmup-epochs", "1"]),
    "fashion-mnist-conv": dict(
        description="Fashion-MNIST, convolutional autoencoder: conv 16-32 with 2x2 max-pools, "
                    "a dense 30-d code, transposed-conv decoder, sigmoid output, MSE",
        args=["--model", "conv", "--data", "fashion-mnist", "--image-shape", "1,28,28",
              "--channels", "16,32", "--n-components", "30", "--decoder", "transpose",
              "--activation", "relu", "--code-activation", "linear", *PLAIN, "--epochs", "6",
              "--batch-size", "128", "--learning-rate", "0.002", "--lr-schedule", "none",
              "--warmup-epochs", "0"]),
    "fashion-mnist-vae-2": dict(
        description="Fashion-MNIST, dense VAE 784-256-2 (Bernoulli decoder): a 2-D code to "
                    "map and walk",
        args=["--model", "vae", "--data", "fashion-mnist", "--hidden-layer-sizes", "256",
              "--n-components", "2", *VAE, "--n-mc-samples", "8", "--epochs", "15",
              "--batch-size", "128", "--learning-rate", "0.001"]),
    "fashion-mnist-vae-16": dict(
        description="Fashion-MNIST, dense VAE 784-256-16 (Bernoulli decoder)",
        args=["--model", "vae", "--data", "fashion-mnist", "--hidden-layer-sizes", "256",
              "--n-components", "16", *VAE, "--n-mc-samples", "8", "--epochs", "15",
              "--batch-size", "128", "--learning-rate", "0.001"]),
    "digits-stacked-8": dict(
        description="scikit-learn digits (8x8), dense stacked autoencoder 64-32-8-32-64, MSE",
        args=["--model", "stacked", "--data", "digits", "--hidden-layer-sizes", "32",
              "--n-components", "8", "--activation", "relu", "--code-activation", "linear",
              "--no-tied", "--pretraining", "none", *PLAIN, "--epochs", "200",
              "--batch-size", "64", "--learning-rate", "0.005", "--lr-schedule", "cosine",
              "--warmup-epochs", "1"]),
    "digits-vae-2": dict(
        description="scikit-learn digits (8x8), dense VAE 64-64-2 (Bernoulli decoder)",
        args=["--model", "vae", "--data", "digits", "--hidden-layer-sizes", "64",
              "--n-components", "2", *VAE, "--n-mc-samples", "8", "--epochs", "300",
              "--batch-size", "64", "--learning-rate", "0.002"]),
}


def command_of(name: str, out: str = OUT_PLACEHOLDER) -> list[str]:
    """The ``aekit train`` argv (without the program) that trains model ``name``."""
    return ["train", *MODELS[name]["args"], *COMMON, "--out", out]


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _versions() -> dict:
    from importlib.metadata import version

    return {**{pkg: version(pkg) for pkg in ("aekit", "torch", "numpy", "scikit-learn")},
            "python": platform.python_version()}


def export_commit(rev: str, work: Path) -> tuple[str, Path]:
    """(full hash, folder holding src/) of commit ``rev``, exported with ``git archive``
    (read-only: the working tree and the index are not touched)."""
    sha = _git("rev-parse", "--verify", f"{rev}^{{commit}}")
    if sha is None:
        raise SystemExit(f"--commit {rev}: not a commit of {ROOT}")
    tree = work / f"src-{sha[:12]}"
    tree.mkdir()
    archive = subprocess.run(["git", "archive", sha, "src"], cwd=ROOT, capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return sha, tree


def retrain(name: str, dest: Path, work: Path, source: tuple[str, Path] | None = None) -> dict:
    """Train ``name`` with its command and install it as ``dest/name``; its provenance.
    source: (commit, exported tree) to train with that commit's code instead of the
    working tree's."""
    run = work / name
    argv = command_of(name, str(run))
    print(f"[{name}] aekit {shlex.join(argv)}", flush=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if source is not None:  # PYTHONPATH comes before the editable install's finder
        env["PYTHONPATH"] = str(source[1] / "src")
    started = dt.datetime.now(dt.timezone.utc)
    subprocess.run([sys.executable, "-m", "aekit", *argv], check=True, env=env)
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    resolved = json.loads((run / "config.resolved.json").read_text(encoding="utf-8"))
    if source is None:
        commit, dirty = _git("rev-parse", "HEAD"), _git("status", "--porcelain", "--", "src")
    else:
        commit, dirty = source[0], ""
    provenance = {
        "name": name,
        "description": MODELS[name]["description"],
        "command": "aekit " + shlex.join(command_of(name)),
        "command_note": f"{OUT_PLACEHOLDER} is the run folder; the model is {OUT_PLACEHOLDER}"
                        "/model. Retrain all: python scripts/retrain_pretrained.py",
        "commit": commit,
        "source_changes_uncommitted": None if dirty is None else bool(dirty),
        "versions": _versions(),
        "machine": f"{platform.machine()} {platform.system()}, 1 torch thread",
        "trained_at": started.isoformat(timespec="seconds"),
        "data": {"name": resolved["data"], "split": resolved["split"],
                 "max_rows": resolved.get("max_rows")},
        "train_seconds": metrics["train_seconds"],
        "epochs_trained": metrics["epochs_trained"],
        "evaluated_on": metrics["evaluated_on"],
        "eval_rows": metrics["eval_rows"],
        "test_metrics": metrics["model"],
        "pca_test_metrics": metrics["pca"],
    }
    dest.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=dest))
    try:
        for f in MODEL_FILES:
            if (run / "model" / f).is_file():
                shutil.copyfile(run / "model" / f, stage / f)
        provenance["files"] = {f.name: _sha256(f) for f in sorted(stage.iterdir())}
        (stage / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n",
                                               encoding="utf-8")
        os.chmod(stage, 0o755)
        target, old = dest / name, dest / f".{name}.old"
        if target.exists():
            os.replace(target, old)
        os.replace(stage, target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    print(f"[{name}] {metrics['epochs_trained']} epochs in {metrics['train_seconds']:.0f} s; "
          f"test MSE {metrics['model']['mse']:.5g} (PCA {metrics['pca']['mse']:.5g})", flush=True)
    return provenance


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", choices=sorted(MODELS), metavar="NAME",
                        help=f"retrain only these (repeatable): {', '.join(MODELS)}")
    parser.add_argument("--dest", type=Path, default=DEST,
                        help="folder of the model folders (default: the package's)")
    parser.add_argument("--commit", metavar="REV",
                        help="train with the code of this commit (exported with git archive) "
                             "instead of the working tree; the provenance then names a commit "
                             "with no uncommitted changes")
    parser.add_argument("--print-commands", action="store_true",
                        help="print each model's aekit train command and exit")
    args = parser.parse_args(argv)
    names = args.only or list(MODELS)
    if args.print_commands:
        for name in names:
            print(f"{name}: aekit {shlex.join(command_of(name))}")
        return 0
    with tempfile.TemporaryDirectory(prefix="aekit-retrain-") as work:
        source = None if args.commit is None else export_commit(args.commit, Path(work))
        for name in names:
            retrain(name, args.dest, Path(work), source)
    total = sum(p.stat().st_size for p in args.dest.rglob("*") if p.is_file())
    print(f"{len(names)} model(s) written to {args.dest}; all models together: "
          f"{total / 2**20:.2f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
