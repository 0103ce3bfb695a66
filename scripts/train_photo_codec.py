"""Train the pretrained photo codec (aekit.models.photo_codec; issue 32) on photographs
that ship offline with scikit-learn and scikit-image, and save it into the package as
``src/aekit/pretrained/codecs/photo/`` (config.json + model.safetensors + provenance.json).

    python scripts/train_photo_codec.py --minutes 60 [--out DIR] [--resume] [--bf16]
        [--widen-latent M] [--widen-transforms N1,N2,N3]

The held-out photographs (TEST_IMAGES, in aekit.applications.photo) are never read here:
benchmarks/photo_codec.py measures the codec on them. Training takes random 128x128 crops
of the training photographs at random scales (0.4-1: a downscaled JPEG loses its own block
artefacts) with flips; each crop trains at a random quality level, loss lambda_l * 255^2 *
MSE + bits per pixel (CompressAI's convention for images in [0, 1]). Checkpoints every few
minutes into the output folder; --resume continues from one (and lets GDN off-diagonal
weights that a codec trained before they could move was left with start training).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from aekit.applications.photo import (TRAIN_IMAGES, codec_dir, load_named_photo,
                                      save_codec)
from aekit.models.photo_codec import (PhotoCodec, PhotoCodecConfig, config_from_weights,
                                      unstick_gdn, widen_latent, widen_transforms,
                                      with_levels)

CROP = 128


def crops(photos, rng, n):
    """n random training crops (n, 3, CROP, CROP) in [0, 1]."""
    out = np.empty((n, 3, CROP, CROP), np.float32)
    for i in range(n):
        img = photos[rng.integers(len(photos))]
        h, w = img.shape[1:]
        scale = rng.uniform(max(0.4, CROP / min(h, w)), 1.0)
        t = torch.from_numpy(img)[None]
        if scale < 0.999:
            t = torch.nn.functional.interpolate(t, scale_factor=scale, mode="bilinear",
                                                antialias=True, align_corners=False)
        h, w = t.shape[-2:]
        y, x = rng.integers(h - CROP + 1), rng.integers(w - CROP + 1)
        c = t[0, :, y:y + CROP, x:x + CROP]
        if rng.random() < 0.5:
            c = c.flip(-1)
        out[i] = c.clamp(0, 1).numpy()
    return out


def widths_arg(text: str) -> tuple[int, int, int]:
    """--widen-transforms N1,N2,N3: three positive widths."""
    try:
        widths = tuple(int(v) for v in text.split(","))
    except ValueError:
        widths = ()
    if len(widths) != 3 or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"expected three positive widths N1,N2,N3, not {text!r}")
    return widths


def save_state(model, step, path):
    tmp = path.with_suffix(".tmp")
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
              str(tmp),
              metadata={"step": str(step), "lambdas": json.dumps(list(model.config.lambdas))})
    os.replace(tmp, path)


def config_of(weights: dict, lambdas=None) -> PhotoCodecConfig:
    """The shape of a codec, read off its weights (a training checkpoint holds no config),
    with its quality levels' ``lambdas`` (None: the recipe's)."""
    lambdas = tuple(lambdas or PhotoCodecConfig().lambdas)
    levels = weights["gain"].shape[0]
    if len(lambdas) != levels:
        raise SystemExit(f"the checkpoint has {levels} quality levels, its lambdas {len(lambdas)}")
    return config_from_weights(weights, lambdas)


def resume_from(state_path: Path, out: Path) -> tuple[dict, int, list | None]:
    """(weights, step, lambdas) of the training checkpoint, or else of the codec saved in
    ``out``. A checkpoint written before it recorded its lambdas takes those of the codec in
    ``out`` if there is one, else None (the recipe's)."""
    saved = out / "config.json"
    lambdas = json.loads(saved.read_text())["lambdas"] if saved.exists() else None
    if state_path.exists():
        with safe_open(str(state_path), "pt") as f:
            meta = f.metadata()
        if "lambdas" in meta:
            lambdas = json.loads(meta["lambdas"])
        return load_file(str(state_path)), int(meta["step"]), lambdas
    if (out / "model.safetensors").exists():
        step = int(json.loads((out / "provenance.json").read_text())["steps"])
        return load_file(str(out / "model.safetensors")), step, lambdas
    raise SystemExit(f"--resume: neither {state_path} nor {out / 'model.safetensors'} exists")


def rd_loss(model, x, levels, transform_dtype=None):
    out = model(x, levels.float(), transform_dtype)
    pixels = x.shape[-1] * x.shape[-2]
    bits = (-torch.log2(out["y_likelihood"].clamp_min(1e-9))).flatten(1).sum(1) \
        + (-torch.log2(out["z_likelihood"].clamp_min(1e-9))).flatten(1).sum(1)
    bpp = bits / pixels
    mse = (out["x_hat"] - x).square().flatten(1).mean(1)
    lam = torch.tensor(model.config.lambdas, device=x.device)[levels]
    return (lam * 255 ** 2 * mse + bpp).mean(), bpp.detach(), mse.detach()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--state", type=Path, default=Path("photo-codec-training.safetensors"),
                    help="the training checkpoint (weights and step; not shipped)")
    ap.add_argument("--resume", action="store_true",
                    help="continue from --state (or, without one, from the codec in --out)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (on a lent GPU; "
                    "the saved weights are the same either way)")
    ap.add_argument("--reset-gains", action="store_true",
                    help="on --resume: start the gain vectors afresh (at their initial spread)")
    ap.add_argument("--widen-latent", type=int, default=None, metavar="M",
                    help="on --resume: widen y to M channels, keeping what the model "
                    "reconstructs (aekit.models.photo_codec.widen_latent)")
    ap.add_argument("--widen-transforms", type=widths_arg, default=None, metavar="N1,N2,N3",
                    help="on --resume: widen the transforms' hidden layers (strides 2, 4, 8) "
                    "to these widths, keeping what the model reconstructs "
                    "(aekit.models.photo_codec.widen_transforms)")
    ap.add_argument("--steps", type=int, default=None, help="stop after this many steps")
    ap.add_argument("--bf16", action="store_true",
                    help="run the transforms in bfloat16 autocast (1.5x the steps per second on "
                    "a CPU with AMX; the densities and the saved weights stay float32)")
    args = ap.parse_args(argv)
    for flag, value in (("--widen-latent", args.widen_latent),
                        ("--widen-transforms", args.widen_transforms)):
        if value and not args.resume:
            ap.error(f"{flag} widens a trained codec: give --resume too")
    out = args.out or codec_dir()
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    photos = [load_named_photo(name) for name in TRAIN_IMAGES]
    model = PhotoCodec(PhotoCodecConfig())
    step, log = 0, []
    if args.resume:  # weights and step; Adam's moments restart
        weights, step, lambdas = resume_from(args.state, out)
        model = PhotoCodec(config_of(weights, lambdas))
        model.load_state_dict(weights)
        recipe = PhotoCodecConfig().lambdas
        if model.config.lambdas != recipe:  # the recipe has gained levels: train them too
            try:
                model = with_levels(model, recipe)
            except ValueError as error:
                raise SystemExit(f"--resume: {error}") from None
            print(f"quality levels {list(lambdas)} -> {list(recipe)}")
        rng = np.random.default_rng(args.seed + step)
        moved = unstick_gdn(model)
        if moved:
            print(f"{moved} GDN off-diagonal weights were stuck at 0; they now train")
    if args.widen_latent:
        model = widen_latent(model, args.widen_latent)
    if args.widen_transforms:
        model = widen_transforms(model, args.widen_transforms)
    config = model.config
    if args.reset_gains:  # keep the transforms, start the gains at their new initial spread
        fresh = PhotoCodec(config)
        with torch.no_grad():
            model.gain.copy_(fresh.gain)
            model.inverse_gain.copy_(fresh.inverse_gain)
    device = torch.device(args.device)
    model.to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    start = time.monotonic()
    last_save = start
    deadline = start + 60 * args.minutes
    levels_n = len(config.lambdas)
    decayed = False
    while time.monotonic() < deadline and (args.steps is None or step < args.steps):
        x = torch.from_numpy(crops(photos, rng, args.batch)).to(device)
        levels = torch.from_numpy(rng.integers(levels_n, size=args.batch)).to(device)
        loss, bpp, mse = rd_loss(model, x, levels, torch.bfloat16 if args.bf16 else None)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        step += 1
        if time.monotonic() > deadline - 0.2 * 60 * args.minutes and not decayed:
            for group in optimiser.param_groups:  # the last fifth at a third of the rate
                group["lr"] = args.lr / 3
            decayed = True
        if step % 50 == 0:
            psnr = (-10 * torch.log10(mse.clamp_min(1e-10))).tolist()
            log.append({"step": step, "loss": loss.item(), "seconds": time.monotonic() - start})
            print(f"step {step} loss {loss.item():.3f} "
                  + " ".join(f"L{int(l)}:{b:.2f}bpp/{p:.1f}dB"
                             for l, b, p in sorted(zip(levels.tolist(), bpp.tolist(), psnr))[:4]),
                  flush=True)
        if time.monotonic() - last_save > 300:
            save_state(model, step, args.state)
            last_save = time.monotonic()
    save_state(model, step, args.state)
    save_codec(model.cpu().eval(), out, {"script": "scripts/train_photo_codec.py",
                                   "argv": sys.argv[1:], "steps": step,
                                   "train_images": list(TRAIN_IMAGES),
                                   "torch": torch.__version__})
    print(f"saved {out} after {step} steps")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
