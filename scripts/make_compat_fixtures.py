"""Write tests/fixtures/models_v2: one small saved model of every kind and the outputs it
gives, so that tests/test_compat_v2.py can check that later code loads each folder and
gives the same outputs (issue 29: the kinds' types change, their files must not).

    python scripts/make_compat_fixtures.py [--out tests/fixtures/models_v2]

Run once, by the version whose files are to stay readable; the folder records its commit.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

import aekit
from aekit.datasets.scenes import make_scenes

ROOT = Path(__file__).resolve().parent.parent
ROWS = {"digits": 8, "scenes": 3}  # rows whose outputs are kept (a scene's are 16x16xC)


def digits() -> tuple[np.ndarray, np.ndarray]:
    d = load_digits()
    return (d.data / 16.0).astype(np.float32)[:200], d.target[:200]


def scenes() -> tuple[np.ndarray, np.ndarray]:
    d = load_digits()
    return make_scenes((d.data / 16.0).reshape(-1, 8, 8)[:200], d.target[:200], 24,
                       canvas=(16, 16), random_state=0)


def models() -> dict:
    """name -> (fitted estimator, which data its outputs are computed on)."""
    X, y = digits()
    S, M = scenes()
    y_few = np.where(np.arange(len(y)) % 4 == 0, y, -1)
    small = dict(random_state=0)
    return {
        "linear": (aekit.LinearAutoencoder(4, **small).fit(X), "digits"),
        "stacked": (aekit.StackedAutoencoder(4, hidden_layer_sizes=(16,), epochs=2,
                                             **small).fit(X), "digits"),
        "conv_unpool": (aekit.ConvAutoencoder(image_shape=(8, 8), channels=(4, 8),
                                              n_components=4, decoder="unpool", epochs=2,
                                              **small).fit(X), "digits"),
        "vae": (aekit.VariationalAutoencoder(2, hidden_layer_sizes=(16,), epochs=2,
                                             **small).fit(X), "digits"),
        "classifier": (aekit.AutoencoderClassifier(
            4, hidden_layer_sizes=(16,), pretrain_epochs=2, head_epochs=2, finetune_epochs=2,
            **small).fit(X, y_few), "digits"),
        "segmenter": (aekit.ConvSegmenter(channels=(4, 8), epochs=2, batch_size=8,
                                          **small).fit(S, M), "scenes"),
    }


def outputs(est, X) -> dict:
    """What each kind gives: the methods a user calls on it."""
    if hasattr(est, "predict_proba"):
        return {"predict_proba": np.asarray(est.predict_proba(X)).tolist()}
    return {"transform": est.transform(X).tolist(), "reconstruct": est.reconstruct(X).tolist(),
            "score_samples": est.score_samples(X).tolist(),
            "inverse_transform": est.inverse_transform(est.transform(X[:5])).tolist(),
            "sample": est.sample(4, random_state=0).tolist()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures" / "models_v2")
    args = ap.parse_args(argv)
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    X, _ = digits()
    S, _ = scenes()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    reference = {"commit": commit, "models": {}}
    for name, (est, data) in models().items():
        rows = (S if data == "scenes" else X)[:ROWS[data]]
        est.save(args.out / name)
        reference["models"][name] = {"data": data, **outputs(est, rows)}
    (args.out / "reference.json").write_text(json.dumps(reference) + "\n")
    print(f"wrote {args.out} ({len(reference['models'])} models, commit {commit})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
