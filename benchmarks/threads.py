"""Threads on a shared machine (issue 27): where a thread team pays, and what the default
policy costs against one thread and a plain PyTorch loop, quiet and beside busy processes.

    python benchmarks/threads.py           # every part (~10 min on 2 cores), writes results/
    python benchmarks/threads.py --quick   # smoke mode: short timings, seconds

Parts, each measured side by side in one run ("busy": the benchmark starts two ``yes >
/dev/null`` processes, each keeping a core busy, and stops them after):

- ``crossover``: seconds per training step (forward, backward, Adam) of plain PyTorch models
  at 1 and 2 threads, for work from 1 MFLOP to 16 GFLOP per step (FLOPs counted by torch's
  FlopCounterMode): where the policy's ``TEAM_MIN_FLOPS`` comes from.
- ``small-fit``: the whole default ``StackedAutoencoder().fit`` and
  ``VariationalAutoencoder().fit`` on scikit-learn's 442-row diabetes table (standardised)
  against a plain one-thread PyTorch loop over the same Linear layers (a VAE loop for the
  VAE: reparameterised code, Gaussian likelihood, KL) for the same number of Adam steps at
  the same batch size. Floor: <= 1.3x beside two busy processes.
- ``kinds``: every model kind's default fit on digits (scenes of digits for the segmenter)
  with the default policy, with ``AEKIT_NUM_THREADS=1`` and with 2 threads (what the old
  policy kept for autograd models), quiet and busy. Floors: the default no more than 1.2x
  one thread when busy, and within 5% of the best count when quiet.

Results: results/threads.json and results/threads.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torch import nn

RESULTS = Path(__file__).resolve().parent / "results"


@contextlib.contextmanager
def busy(n: int):
    """``n`` processes that each keep a core busy, started and stopped here."""
    procs = [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(n)]
    try:
        time.sleep(0.3 if n else 0)
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


# --- crossover ------------------------------------------------------------------------------
def _dense(sizes):
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ELU()]
    return nn.Sequential(*layers[:-1])


def _conv():  # the lecture's conv AE (benchmarks/speed.py's conv workload)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.ConvTranspose2d(64, 32, 3, stride=2), nn.ReLU(),
        nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
        nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid())


def _conv8():  # the same blocks on digits' 8x8 images (8 -> 4 -> 2 -> 1 -> 2 -> 4 -> 8)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.ConvTranspose2d(64, 32, 2, stride=2), nn.ReLU(),
        nn.ConvTranspose2d(32, 16, 2, stride=2), nn.ReLU(),
        nn.ConvTranspose2d(16, 1, 2, stride=2), nn.Sigmoid())


DEEP = [784, 1000, 500, 250, 30, 250, 500, 1000, 784]
WORKLOADS = {
    "dense 10-256-2, b32": (lambda: _dense([10, 256, 2, 256, 10]), (10,), 32),
    "dense 784-100-30, b32": (lambda: _dense([784, 100, 30, 100, 784]), (784,), 32),
    "dense 784-100-30, b256": (lambda: _dense([784, 100, 30, 100, 784]), (784,), 256),
    "conv 8x8, b256": (_conv8, (1, 8, 8), 256),
    "conv 28x28, b8": (_conv, (1, 28, 28), 8),
    "conv 28x28, b32": (_conv, (1, 28, 28), 32),
    "conv 28x28, b128": (_conv, (1, 28, 28), 128),
    "deep 784-1000-500-250-30, b128": (lambda: _dense(DEEP), (784,), 128),
    "deep 784-1000-500-250-30, b1024": (lambda: _dense(DEEP), (784,), 1024),
}


def _step_fn(name, shards: int = 1):
    """One training step of workload ``name``; with ``shards`` > 1, as aekit's ShardedStep
    runs it: each slice's forward and backward on its own thread (one intra-op thread
    each), the gradients summed in slice order, one optimizer step."""
    make, shape, b = WORKLOADS[name]
    torch.manual_seed(0)
    model = make()
    params = list(model.parameters())
    opt = torch.optim.Adam(params, 1e-3)
    x = torch.rand(b, *shape)

    def loss_of(xb):
        return (model(xb).reshape(len(xb), -1) - xb.reshape(len(xb), -1)).pow(2).mean()

    if shards == 1:
        def step():
            opt.zero_grad(set_to_none=True)
            loss_of(x).backward()
            opt.step()
        return step
    parts = x.chunk(shards)
    pool = ThreadPoolExecutor(shards, initializer=torch.set_num_threads, initargs=(1,))

    def shard(xb):
        return torch.autograd.grad(loss_of(xb) * (len(xb) / b), params)

    def step():
        grads = list(pool.map(shard, parts))
        for j, p in enumerate(params):
            p.grad = sum(g[j] for g in grads[1:]) + grads[0][j]
        opt.step()
    return step


def _seconds_per_step(step, threads: int, budget: float) -> float:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for _ in range(3):
            step()
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < budget:
            step()
            n += 1
        return (time.perf_counter() - t0) / n
    finally:
        torch.set_num_threads(before)


def crossover(quick: bool) -> list[dict]:
    from torch.utils.flop_counter import FlopCounterMode

    rows = []
    budget = 0.2 if quick else 2.0
    names = list(WORKLOADS)[:3] if quick else list(WORKLOADS)
    for name in names:
        step = _step_fn(name)
        with FlopCounterMode(display=False) as counter:
            step()
        row = {"workload": name, "flops": counter.get_total_flops()}
        sharded = _step_fn(name, shards=2)
        for n_busy in (0, 2):
            with busy(n_busy):
                for t in (1, 2):
                    row[f"busy{n_busy}/{t}t"] = _seconds_per_step(step, t, budget)
                row[f"busy{n_busy}/2s"] = _seconds_per_step(sharded, 1, budget)
        rows.append(row)
        print(f"{name:34s} {row['flops'] / 1e6:9.1f} MFLOP  quiet 2t/1t "
              f"{row['busy0/2t'] / row['busy0/1t']:.2f} 2s/1t "
              f"{row['busy0/2s'] / row['busy0/1t']:.2f}  busy 2t/1t "
              f"{row['busy2/2t'] / row['busy2/1t']:.2f} 2s/1t "
              f"{row['busy2/2s'] / row['busy2/1t']:.2f}", flush=True)
    return rows


# --- small-fit ------------------------------------------------------------------------------
def _diabetes():
    from sklearn.datasets import load_diabetes
    from sklearn.preprocessing import StandardScaler

    return StandardScaler().fit_transform(load_diabetes().data).astype(np.float32)


def _linear_layers(module):
    return [(m.in_features, m.out_features) for m in module.modules()
            if isinstance(m, nn.Linear)]


def plain_loop(X, layers, *, variational: bool, steps: int, batch: int, seed=0) -> float:
    """Seconds of a plain one-thread PyTorch loop: the same Linear layers (ELU between),
    Adam 1e-3, shuffled batches, ``steps`` steps; a VAE's mean/log-variance heads,
    reparameterisation, Gaussian reconstruction and KL when ``variational``."""
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    if variational:  # encoder trunk, two heads, decoder
        (a, h), (_, k), _, *dec = layers
        trunk, mu, logvar = nn.Sequential(nn.Linear(a, h), nn.ELU()), nn.Linear(h, k), \
            nn.Linear(h, k)
        decoder = _dense([dec[0][0]] + [o for _, o in dec])
        params = [*trunk.parameters(), *mu.parameters(), *logvar.parameters(),
                  *decoder.parameters()]
    else:
        net = _dense([layers[0][0]] + [o for _, o in layers])
        params = list(net.parameters())
    opt = torch.optim.Adam(params, 1e-3)
    T = torch.from_numpy(X)
    g = torch.Generator().manual_seed(seed)
    done, t0 = 0, time.perf_counter()
    while done < steps:
        perm = torch.randperm(len(T), generator=g)
        for i in range(0, len(T), batch):
            if done >= steps:
                break
            xb = T[perm[i:i + batch]]
            if variational:
                hb = trunk(xb)
                m, lv = mu(hb), logvar(hb)
                z = m + torch.randn(m.shape, generator=g) * (0.5 * lv).exp()
                recon = 0.5 * (decoder(z) - xb).pow(2).sum(1)
                kl = 0.5 * (m.pow(2) + lv.exp() - lv - 1).sum(1)
                loss = (recon + kl).mean()
            else:
                loss = (net(xb) - xb).pow(2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done += 1
    return time.perf_counter() - t0


def small_fit(quick: bool) -> list[dict]:
    import aekit

    X = _diabetes()
    rows = []
    for cls in (aekit.StackedAutoencoder, aekit.VariationalAutoencoder):
        for n_busy in (0, 2):
            with busy(n_busy):
                kw = {"epochs": 20} if quick else {}
                t0 = time.perf_counter()
                est = cls(random_state=0, **kw).fit(X)
                fit_s = time.perf_counter() - t0
                in_epochs = sum(r["seconds"] for r in est.history_)
                steps = len(est.history_) * -(-len(X) // est.batch_size)
                loop_s = plain_loop(X, _linear_layers(est.module_),
                                    variational=cls is aekit.VariationalAutoencoder,
                                    steps=steps, batch=est.batch_size)
            row = {"estimator": f"{cls.__name__}()", "busy": n_busy, "steps": steps,
                   "batch": est.batch_size, "fit_s": fit_s, "in_epochs_s": in_epochs,
                   "loop_s": loop_s, "threads": est.history_[-1]["threads"]}
            rows.append(row)
            print(f"{row['estimator']:26s} busy={n_busy} fit {fit_s:6.2f} s (epochs "
                  f"{in_epochs:6.2f}) plain loop {loop_s:6.2f} s: {fit_s / loop_s:.2f}x",
                  flush=True)
    return rows


# --- kinds ----------------------------------------------------------------------------------
KIND_CHILD = r"""
import json, sys, time
import numpy as np
import aekit
from aekit.datasets import load
from aekit.datasets.scenes import make_scenes
kind, quick = sys.argv[1], sys.argv[2] == "1"
d = load("digits")
X = d.X
kw = {"epochs": 2} if quick else {}
if kind == "segmenter":
    S, M = make_scenes(d.X.reshape(-1, 8, 8), d.y, 64 if quick else 400, canvas=(32, 32),
                       random_state=0)
    est = aekit.ConvSegmenter(random_state=0, **kw)
    t0 = time.perf_counter(); est.fit(S, M)
elif kind == "classifier":
    y = np.where(np.arange(len(d.y)) % 29 == 0, d.y, -1)  # 50 labels
    kw = {"joint_epochs": 2} if quick else {}
    est = aekit.AutoencoderClassifier(random_state=0, **kw)
    t0 = time.perf_counter(); est.fit(X, y)
else:
    cls = {"linear": aekit.LinearAutoencoder, "stacked": aekit.StackedAutoencoder,
           "conv": aekit.ConvAutoencoder, "vae": aekit.VariationalAutoencoder}[kind]
    est = cls(random_state=0, **kw)
    t0 = time.perf_counter(); est.fit(X)
fit_s = time.perf_counter() - t0
out = {"fit_s": fit_s, "shards": est.history_[-1].get("shards") if hasattr(est, "history_")
       and est.history_ else None}


def plain_loop(net, rows, targets, steps, batch, loss_of):
    # One thread, a copy of the fitted module, Adam at the estimator's batch size for as
    # many steps as fit took: what a hand-written PyTorch loop costs for the same work.
    import copy
    import torch
    torch.set_num_threads(1)
    net = copy.deepcopy(net).train()
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    g = torch.Generator().manual_seed(0)
    t0, done = time.perf_counter(), 0
    while done < steps:
        perm = torch.randperm(len(rows), generator=g)
        for i in range(0, len(rows), batch):
            if done == steps:
                break
            idx = perm[i:i + batch]
            loss = loss_of(net, rows[idx], None if targets is None else targets[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            done += 1
    return time.perf_counter() - t0


if kind in ("stacked", "conv", "vae", "segmenter"):
    import torch
    import torch.nn.functional as F
    data = S if kind == "segmenter" else X
    rows = torch.as_tensor(np.asarray(data, dtype=np.float32).reshape(len(data), -1))
    targets = torch.as_tensor(M, dtype=torch.long) if kind == "segmenter" else None
    steps = len(est.history_) * -(-len(rows) // est.batch_size)

    def loss_of(net, xb, yb):
        o = net(xb)
        if kind == "segmenter":
            return F.cross_entropy(o["logits"], yb)
        if kind == "vae":  # Bernoulli likelihood (digits in [0, 1]) + KL to N(0, I)
            nll = F.binary_cross_entropy_with_logits(o["logits"], xb, reduction="none")
            kl = 0.5 * (o["mu"] ** 2 + o["logvar"].exp() - o["logvar"] - 1)
            return nll.sum(1).mean() + kl.sum(1).mean()
        return (o["recon"] - xb).pow(2).mean()

    out["loop_s"] = plain_loop(est.module_, rows, targets, steps, est.batch_size, loss_of)
print(json.dumps(out))
"""
KINDS = ("linear", "stacked", "conv", "vae", "classifier", "segmenter")
SETTINGS = {"default": None, "1 thread": "1", "2 threads": "2"}


def _kind_fit(kind: str, setting: str | None, quick: bool) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "AEKIT_NUM_THREADS")}
    if setting is not None:
        env["AEKIT_NUM_THREADS"] = setting
    done = subprocess.run([sys.executable, "-c", KIND_CHILD, kind, "1" if quick else "0"],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{kind} ({setting}): {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


REPEAT_BELOW_S = 10.0  # fits shorter than this run 3 times (interleaved): the median
REPEATS = 3


def kinds(quick: bool, only=None) -> list[dict]:
    rows = []
    for kind in only or KINDS:
        row = {"kind": kind}
        for n_busy in (0, 2):
            with busy(n_busy):
                runs = {label: [] for label in SETTINGS}
                loops, repeats, r = [], 1, 0
                while r < repeats:  # settings interleaved: drift hits each alike
                    for label, setting in SETTINGS.items():
                        got = _kind_fit(kind, setting, quick)
                        runs[label].append(got["fit_s"])
                        if label == "default":  # measured in the same child, right after
                            loops.append(got.get("loop_s"))
                            row["shards"] = got.get("shards")
                    if r == 0 and not quick and runs["default"][0] < REPEAT_BELOW_S:
                        repeats = REPEATS
                    r += 1
            for label in SETTINGS:
                row[f"busy{n_busy}/{label}"] = float(np.median(runs[label]))
            row[f"busy{n_busy}/loop"] = None if loops[0] is None else float(np.median(loops))
            row[f"busy{n_busy}/runs"] = repeats
        rows.append(row)
        print(f"{kind:11s} quiet " + " ".join(f"{k}={row['busy0/' + k]:.2f}" for k in SETTINGS)
              + " | busy " + " ".join(f"{k}={row['busy2/' + k]:.2f}" for k in SETTINGS),
              flush=True)
    return rows


# --- report ---------------------------------------------------------------------------------
def markdown(result: dict) -> str:
    out = ["# Threads on a shared machine (issue 27)", "",
           f"Machine: {result['machine']}. Wall time of the benchmark: "
           f"{result['seconds']:.0f} s. 'busy': two `yes > /dev/null` processes started by "
           "the benchmark, each keeping a core busy. "
           + ("**Quick mode: smoke figures only.**" if result["quick"] else ""), ""]
    if result.get("crossover"):
        out += ["## Where a thread team pays: seconds per training step", "",
                "Plain PyTorch models, forward + backward + Adam, at 1 and 2 threads. FLOPs "
                "per step by torch's FlopCounterMode.", "",
                "| workload | MFLOP/step | quiet 1t ms | quiet 2t ms | quiet 2 shards ms | "
                "2t/1t | 2s/1t | busy 1t ms | busy 2t ms | busy 2 shards ms | 2t/1t | 2s/1t |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in result["crossover"]:
            cells = [r["workload"], f"{r['flops'] / 1e6:.1f}"]
            for b in (0, 2):
                one, team, shards = (r[f"busy{b}/{k}"] for k in ("1t", "2t", "2s"))
                cells += [f"{one * 1e3:.2f}", f"{team * 1e3:.2f}", f"{shards * 1e3:.2f}",
                          f"{team / one:.2f}", f"{shards / one:.2f}"]
            out.append("| " + " | ".join(cells) + " |")
        out += ["", "'2t': torch's intra-op team of 2 threads; '2 shards': the batch in two "
                "slices, each forward and backward on its own thread of one intra-op thread "
                "(aekit's ShardedStep), gradients summed, one Adam step. Policy "
                "(aekit/training/threads.py): below TEAM_MIN_FLOPS = 0.2 GFLOP per step, one "
                "thread; above, one shard per core where the objective adds up over rows "
                "(else half the cores as a team). The team meets at a barrier after every "
                "operator, and beside busy processes a member that waits for its core "
                "stalls each one; a shard runs alone and the step joins once.", ""]
    if result.get("small_fit"):
        out += ["## Whole default fits on a 442-row table against a plain loop", "",
                "The plain loop: one thread, the same Linear layers, Adam, batch size and "
                "number of steps. Floor: <= 1.3x beside two busy processes.", "",
                "| call | busy | steps (batch) | threads | fit s | in epochs s | plain loop s | "
                "fit / loop |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in result["small_fit"]:
            out.append(f"| `{r['estimator']}.fit(X)` | {r['busy']} | {r['steps']} "
                       f"({r['batch']}) | {r['threads']} | {r['fit_s']:.2f} | "
                       f"{r['in_epochs_s']:.2f} | {r['loop_s']:.2f} | "
                       f"{r['fit_s'] / r['loop_s']:.2f} |")
        out.append("")
    if result.get("kinds"):
        out += ["## Every model kind's default fit: policy vs fixed counts", "",
                "Seconds of the whole `fit` call on digits (1442 rows of 8x8; the segmenter "
                "on 400 scenes of 32x32), each in a fresh process. Floors: busy, default <= "
                "1.2x one thread; quiet, default within 5% of the best count.", "",
                "| kind | runs | shards | quiet default | quiet 1 thread | quiet 2 threads | default / "
                "best | quiet plain loop | default / loop | busy default | busy 1 thread | "
                "busy 2 threads | default / 1 thread | busy plain loop | default / loop |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]

        def loop_cells(r, b):
            loop = r.get(f"busy{b}/loop")
            if loop is None:
                return ["—", "—"]
            return [f"{loop:.2f}", f"{r[f'busy{b}/default'] / loop:.2f}"]

        for r in result["kinds"]:
            q = [r[f"busy0/{k}"] for k in SETTINGS]
            b = [r[f"busy2/{k}"] for k in SETTINGS]
            cells = [r["kind"], str(r.get("busy0/runs", 1)), str(r.get("shards") or "—"), *(f"{v:.2f}" for v in q),
                     f"{q[0] / min(q):.2f}", *loop_cells(r, 0), *(f"{v:.2f}" for v in b),
                     f"{b[0] / b[1]:.2f}", *loop_cells(r, 2)]
            out.append("| " + " | ".join(cells) + " |")
        busy_ok = [r["kind"] for r in result["kinds"]
                   if r["busy2/default"] <= 1.2 * r["busy2/1 thread"]]
        quiet_bad = [r["kind"] for r in result["kinds"]
                     if r["busy0/default"] > 1.05 * min(r[f"busy0/{k}"] for k in SETTINGS)]
        out += ["", "The plain loop: a copy of the fitted module trained by a hand-written "
                "one-thread PyTorch loop (Adam, the estimator's batch size, as many steps as "
                "the fit took; MSE, the VAE's Bernoulli ELBO, or the segmenter's "
                "cross-entropy), in the same process right after the default fit. The "
                "classifier has no such loop: its phases include label spreading "
                "(scikit-learn) and three networks. 'linear' solves by SVD.",
                "", "Each fit in a fresh process; fits under "
                f"{REPEAT_BELOW_S:.0f} s ran {REPEATS} times, the settings interleaved, and "
                "the table gives the median (the runs column); a fit of a few hundredths of "
                "a second is at the mercy of one time slice. Above 0.2 GFLOP per step (conv, "
                "segmenter) the default splits each batch into one shard per core and "
                "'1 thread' runs the same shards on one thread (the same weights: threads "
                "change only the speed), while '2 threads' is the default's own setting on 2 "
                "cores (2 shards, 2 workers): their difference is run-to-run noise; below, every setting trains the same way and "
                "'2 threads' is torch's team. The classifier and segmenter also run "
                "scikit-learn code that AEKIT_NUM_THREADS does not govern. "
                + (f"Re-measured later, on the code of that time: "
                   f"{', '.join(result['remeasured'])}. " if result.get("remeasured") else "")
                + f"Busy floor (default <= 1.2x one thread) holds as measured for: "
                f"{', '.join(busy_ok) or 'none'}. Quiet floor (within 5% of the best count) "
                f"fails as measured for: {', '.join(quiet_bad) or 'none'}.", ""]
    return "\n".join(out)


def main(argv=None) -> int:
    # SIGTERM unwinds like Ctrl-C, so the busy processes are stopped on the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke mode: short timings")
    ap.add_argument("--part", choices=("all", "crossover", "small-fit", "kinds", "shared"),
                    default="all", help="'shared': small-fit and kinds (benchmarks/speed.py "
                    "--part shared runs it)")
    ap.add_argument("--name", default="threads", help="results file name (%(default)s)")
    ap.add_argument("--kinds", nargs="+", choices=KINDS, default=None,
                    help="measure these kinds only, replacing their rows in an existing "
                    "results file (the other rows and parts are kept)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--render", action="store_true",
                    help="rewrite the .md from the .json already in --out, measuring nothing")
    args = ap.parse_args(argv)
    if args.render:
        result = json.loads((args.out / f"{args.name}.json").read_text())
        (args.out / f"{args.name}.md").write_text(markdown(result) + "\n")
        return 0
    t0 = time.perf_counter()
    result = {"machine": f"{platform.platform()}, {os.cpu_count()} CPUs, "
                         f"{platform.processor() or platform.machine()}, torch "
                         f"{torch.__version__}", "quick": args.quick}
    if args.part in ("all", "crossover"):
        result["crossover"] = crossover(args.quick)
    name = f"{args.name}-quick" if args.quick else args.name
    if args.kinds:  # a re-measurement of some kinds, merged into the results file
        result = json.loads((args.out / f"{name}.json").read_text())
        again = {r["kind"]: r for r in kinds(args.quick, args.kinds)}
        result["kinds"] = [again.get(r["kind"], r) for r in result["kinds"]]
        result["remeasured"] = sorted(set(result.get("remeasured", [])) | set(args.kinds))
    else:
        if args.part in ("all", "small-fit", "shared"):
            result["small_fit"] = small_fit(args.quick)
        if args.part in ("all", "kinds", "shared"):
            result["kinds"] = kinds(args.quick)
        result["seconds"] = time.perf_counter() - t0
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / f"{name}.md").write_text(markdown(result) + "\n")
    print(f"wrote {args.out / name}.json and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
