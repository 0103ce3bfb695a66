"""A learned transform codec for photographs (issue 32): the mean-scale hyperprior of
Ballé et al. 2018 / Minnen et al. 2018 with GDN transforms (Ballé et al. 2016), and gain
units for a continuous rate (Cui et al. 2021, "Asymmetric gained deep image compression").

    image x --g_a--> y --gain--> y_g --h_a--> z --Q--> z_hat   (factorised density p(z))
    z_hat --h_s--> (mu, sigma);  y_hat = mu + round(y_g - mu)  (Gaussian p(y|z), scale sigma)
    y_hat --1/gain--> g_s --> x_hat

Training adds uniform noise for the rates (the noisy density is the discrete one convolved
with U(-1/2, 1/2): Ballé et al. 2017, sec. 2) and passes the rounded latents to the
decoder straight through (Minnen & Singh 2020's "mixed" quantisation). The coder
(aekit.applications.photo) codes with the same densities: p(z) from the bottleneck's learned
cumulative, p(y|z) the Gaussian whose scale is snapped to ``scale_table`` (the table the
likelihoods here are computed on, so the trained density is the coding density).

No part of this module codes bits: it computes likelihoods and the transforms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import nn
from torch.nn import functional as F

# The total stride of z (four stride-2 layers in g_a, two in h_a): images are padded to a
# multiple of it.
STRIDE_Y = 16
STRIDE_Z = 64
SCALE_MIN = 0.11  # CompressAI's lower bound on sigma: below it a symbol costs ~0 bits
SCALE_MAX = 256.0
SCALE_LEVELS = 64
# GDN's gamma is a function of |root| (see GDN.gamma) whose gradient vanishes where the root
# is 0: off-diagonal roots started at exactly 0 never move, and the layer trains as a
# per-channel nonlinearity, not a normalisation across channels (the first pretrained
# codec's did exactly that). They start at this instead: gamma 1e-8, which moved the trained
# codec's output by under 1e-4 of a grey level. CompressAI starts them above 0 for the same
# reason.
GDN_OFF_DIAGONAL_ROOT = 1e-4
GDN_PEDESTAL_ROOT = 2.0 ** -18  # CompressAI's reparametrisation offset


def scale_table() -> torch.Tensor:
    """The scales sigma is snapped to (log-spaced, SCALE_MIN..SCALE_MAX), in training and
    coding alike."""
    return torch.exp(torch.linspace(math.log(SCALE_MIN), math.log(SCALE_MAX), SCALE_LEVELS))


def snap_scales(sigma: torch.Tensor) -> torch.Tensor:
    """Index into ``scale_table()`` of the nearest scale in log space (the coder's model)."""
    position = (torch.log(sigma.clamp(SCALE_MIN, SCALE_MAX)) - math.log(SCALE_MIN)) \
        / (math.log(SCALE_MAX) - math.log(SCALE_MIN)) * (SCALE_LEVELS - 1)
    return torch.round(position).long()


class _LowerBound(torch.autograd.Function):
    """max(x, bound), whose gradient passes where x is above the bound or is pushed up
    (Balle et al.'s lower bound: a root held at the bound can still grow)."""

    @staticmethod
    def forward(ctx, x, bound):
        ctx.save_for_backward(x)
        ctx.bound = bound
        return x.clamp_min(bound)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ((x >= ctx.bound) | (grad < 0)), None


class GDN(nn.Module):
    """Generalised divisive normalisation (Ballé et al. 2016): y_i = x_i / sqrt(beta_i +
    sum_j gamma_ij x_j^2), or its approximate inverse (IGDN) multiplying instead. beta is
    the square of a parameter plus 1e-6; gamma the bounded square in ``gamma()``."""

    def __init__(self, channels: int, inverse: bool = False):
        super().__init__()
        self.inverse = inverse
        self.beta_root = nn.Parameter(torch.ones(channels))
        off = 1 - torch.eye(channels)
        self.gamma_root = nn.Parameter(math.sqrt(0.1) * torch.eye(channels)
                                       + GDN_OFF_DIAGONAL_ROOT * off)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        beta = self.beta_root.square() + 1e-6
        norm = F.conv2d(x * x, self.gamma()[:, :, None, None], beta)
        return x * (norm.sqrt() if self.inverse else norm.rsqrt())

    def gamma(self) -> torch.Tensor:
        """The (C, C) matrix gamma, non-negative."""
        # gamma = max(|root|, p)^2 - p^2 (Balle's reparametrisation, as CompressAI's): 0 at
        # the bound, never subnormal. Plain root^2 let training drive roots toward 0 until
        # gamma held subnormal floats, which the CPU multiplies ~30x slower (the retrained
        # codec's last IGDN took 0.37 s of a 768x512 decode).
        root = _LowerBound.apply(self.gamma_root.abs(), GDN_PEDESTAL_ROOT)
        return root.square() - GDN_PEDESTAL_ROOT ** 2


def _conv(cin: int, cout: int, k: int = 5, stride: int = 2) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)


def _deconv(cin: int, cout: int, k: int = 5, stride: int = 2) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(cin, cout, k, stride=stride, padding=k // 2,
                              output_padding=stride - 1)


class EntropyBottleneck(nn.Module):
    """The factorised density of Ballé et al. 2018 (appendix 6.1): per channel, a learned
    monotone cumulative c(x) = f_K(...f_1(x)), f_k(x) = g(H_k x + b_k), g(x) = x + a*tanh(x),
    H = softplus(H'), a = tanh(a'). Likelihood of an integer z: c(z + 1/2) - c(z - 1/2)."""

    def __init__(self, channels: int, filters=(3, 3, 3), init_scale: float = 10.0):
        super().__init__()
        dims = (1, *filters, 1)
        scale = init_scale ** (1 / (len(filters) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for i in range(len(filters) + 1):
            init = math.log(math.expm1(1 / scale / dims[i + 1]))
            self.matrices.append(nn.Parameter(torch.full((channels, dims[i + 1], dims[i]), init)))
            self.biases.append(nn.Parameter(torch.rand(channels, dims[i + 1], 1) - 0.5))
            if i < len(filters):
                self.factors.append(nn.Parameter(torch.zeros(channels, dims[i + 1], 1)))

    def logits_cumulative(self, x: torch.Tensor) -> torch.Tensor:
        """The cumulative's logit at x: (channels, 1, n) -> (channels, 1, n)."""
        for i, (matrix, bias) in enumerate(zip(self.matrices, self.biases)):
            x = torch.matmul(F.softplus(matrix), x) + bias
            if i < len(self.factors):
                x = x + torch.tanh(self.factors[i]) * torch.tanh(x)
        return x

    def likelihood(self, z: torch.Tensor) -> torch.Tensor:
        """p(z) of each element of z (n, C, h, w), by the cumulative's difference (computed
        on the side of the median where it does not round to 1 - 1: Ballé's sign trick)."""
        c = z.shape[1]
        flat = z.transpose(0, 1).reshape(c, 1, -1)
        lower = self.logits_cumulative(flat - 0.5)
        upper = self.logits_cumulative(flat + 0.5)
        sign = -torch.sign(lower + upper).detach()
        p = (torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower)).abs()
        return p.reshape(c, z.shape[0], *z.shape[2:]).transpose(0, 1)

    def pmf_table(self, lo: int, hi: int) -> torch.Tensor:
        """p(z = k) for k in lo..hi per channel: (channels, hi - lo + 1), the coder's table
        (the mass outside the range goes to the escape symbol)."""
        c = self.matrices[0].shape[0]
        k = torch.arange(lo, hi + 1, dtype=torch.float32)
        return self.likelihood(k.reshape(1, 1, -1, 1).expand(1, c, -1, 1))[0, :, :, 0]


def gaussian_likelihood(values: torch.Tensor, means: torch.Tensor,
                        scales: torch.Tensor) -> torch.Tensor:
    """p(v) of a Gaussian(mean, scale) discretised to unit bins: Phi((v - mu + 1/2) /
    sigma) - Phi((v - mu - 1/2) / sigma), written on the lower tail for precision."""
    v = (values - means).abs()
    upper = _std_cumulative((0.5 - v) / scales)
    lower = _std_cumulative((-0.5 - v) / scales)
    return upper - lower


def _std_cumulative(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * torch.erfc(-x / math.sqrt(2))


@dataclass(frozen=True)
class PhotoCodecConfig:
    """The codec's shape: ``channels``, the transforms' three hidden widths (at strides 2, 4
    and 8 of g_a, mirrored in g_s; one number sets all three), ``latent_channels`` (M) in
    y, ``hyper_channels`` in z, ``hyper_widths``: the hyper-decoder's two hidden widths
    (None: M and 3M/2, Minnen et al.'s), ``image_channels`` (3: RGB; a grey image is coded
    as three equal planes), and ``lambdas``: the rate-distortion trade-offs of the quality
    levels (loss = lambda * 255^2 * MSE + bits per pixel), one gain vector each.

    M bounds the top of the quality range: y holds M numbers per 16x16 block of 768, and a
    linear transform keeping 128 of them reconstructs a photograph at only 27-31 dB, 320 of
    them at 39-40 dB (principal axes of 16x16x3 blocks of the training photographs, measured
    on two of them). Hence M = 320, as in CompressAI's high-rate models. The same bound holds
    inside the transforms: at stride 8 a hidden layer holds its width in numbers per 8x8x3
    block of 192, and keeping 64 of them reconstructs the test photographs at only 35-42 dB
    (coffee 35.3), 128 of them at 46-61 dB. Hence 128 at stride 8; at strides 2 and 4, 64
    numbers per 12 and 48 bound nothing."""

    channels: int | tuple = (64, 64, 128)
    latent_channels: int = 320
    hyper_channels: int = 64
    image_channels: int = 3
    # The ladder steps by ~2.5 from 0.0018 (CompressAI's lowest) up to 0.48 (quality 100);
    # the two lowest (0.0002, 0.0006) were added so that quality 1 reaches ~0.1 bpp: at
    # 0.0018 the first codec coded a detailed photograph at 0.5 bpp.
    lambdas: tuple = (0.0002, 0.0006, 0.0018, 0.0046, 0.0116, 0.0295, 0.075, 0.19, 0.48)
    hyper_widths: tuple | None = (128, 192)

    def transform_widths(self) -> tuple[int, int, int]:
        """The transforms' hidden widths at strides 2, 4 and 8."""
        c = self.channels
        widths = (int(c),) * 3 if isinstance(c, int) else tuple(int(v) for v in c)
        if len(widths) != 3 or min(widths) < 1:
            raise ValueError(f"channels must be one width or three (strides 2, 4, 8), not {c!r}")
        return widths

    def widths(self) -> tuple[int, int]:
        m = self.latent_channels
        return tuple(self.hyper_widths) if self.hyper_widths else (m, m * 3 // 2)

    def to_dict(self) -> dict:
        return {"network": "photo-codec", "channels": list(self.transform_widths()),
                "latent_channels": self.latent_channels, "hyper_channels": self.hyper_channels,
                "image_channels": self.image_channels, "lambdas": list(self.lambdas),
                "hyper_widths": list(self.widths())}

    @classmethod
    def from_dict(cls, d: dict) -> "PhotoCodecConfig":
        widths = d.get("hyper_widths")  # absent in the first codec's config: M and 3M/2
        channels = d["channels"]  # one number in the first codecs' configs
        return cls(channels=int(channels) if isinstance(channels, int)
                   else tuple(int(v) for v in channels), latent_channels=int(d["latent_channels"]),
                   hyper_channels=int(d["hyper_channels"]),
                   image_channels=int(d["image_channels"]),
                   lambdas=tuple(float(v) for v in d["lambdas"]),
                   hyper_widths=tuple(int(v) for v in widths) if widths else None)


def config_from_weights(weights: dict, lambdas: tuple) -> PhotoCodecConfig:
    """The shape of a codec read off its weights (a training checkpoint holds no config),
    with the quality levels' ``lambdas``, which the weights do not hold."""
    return PhotoCodecConfig(
        channels=tuple(weights[f"g_a.{i}.weight"].shape[0] for i in (0, 2, 4)),
        latent_channels=weights["gain"].shape[1], hyper_channels=weights["h_a.0.weight"].shape[0],
        image_channels=weights["g_a.0.weight"].shape[1], lambdas=tuple(lambdas),
        hyper_widths=(weights["h_s.0.weight"].shape[1], weights["h_s.2.weight"].shape[1]))


class PhotoCodec(nn.Module):
    """The transforms, the gains and the two densities (see the module docstring)."""

    def __init__(self, config: PhotoCodecConfig):
        super().__init__()
        self.config = config
        (n1, n2, n3), m = config.transform_widths(), config.latent_channels
        h, c = config.hyper_channels, config.image_channels
        self.g_a = nn.Sequential(_conv(c, n1), GDN(n1), _conv(n1, n2), GDN(n2), _conv(n2, n3),
                                 GDN(n3), _conv(n3, m))
        self.g_s = nn.Sequential(_deconv(m, n3), GDN(n3, inverse=True), _deconv(n3, n2),
                                 GDN(n2, inverse=True), _deconv(n2, n1), GDN(n1, inverse=True),
                                 _deconv(n1, c))
        self.h_a = nn.Sequential(_conv(m, h, 3, 1), nn.LeakyReLU(), _conv(h, h),
                                 nn.LeakyReLU(), _conv(h, h))
        w1, w2 = config.widths()
        self.h_s = nn.Sequential(_deconv(h, w1), nn.LeakyReLU(), _deconv(w1, w2),
                                 nn.LeakyReLU(), _conv(w2, 2 * m, 3, 1))
        # Gains start apart, at the high-rate optimum: distortion ~ step^2 / 12 against
        # rate ~ -log2(step), so the best step goes as 1 / sqrt(lambda) and the gain (one
        # over the step) as sqrt(lambda), relative to the middle level. Started equal, the
        # levels took thousands of steps to separate.
        lam = torch.tensor(config.lambdas, dtype=torch.float32)
        spread = (lam / lam[len(lam) // 2]).sqrt()[:, None]
        self.gain = nn.Parameter(spread.repeat(1, m))
        self.inverse_gain = nn.Parameter((1 / spread).repeat(1, m))
        self.bottleneck = EntropyBottleneck(h)

    # --- gains: a continuous level t in [0, levels - 1] interpolates neighbouring vectors
    # geometrically (Cui et al. 2021, eq. 9), so quality is a continuous knob.
    def gains(self, level: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(gain, inverse gain) for each image's level (n,): (n, M, 1, 1) each."""
        top = len(self.config.lambdas) - 1
        level = level.clamp(0, top)
        low = level.floor().long().clamp(max=max(top - 1, 0))
        high = (low + 1).clamp(max=top)
        t = (level - low)[:, None]
        g = self.gain.abs() + 1e-4
        ig = self.inverse_gain.abs() + 1e-4
        gain = g[low] ** (1 - t) * g[high] ** t
        inverse = ig[low] ** (1 - t) * ig[high] ** t
        return gain[:, :, None, None], inverse[:, :, None, None]

    def entropy_parameters(self, z_hat: torch.Tensor, y_shape) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, sigma) of y's density from the decoded hyper-latent (cropped to y's size)."""
        params = self.h_s(z_hat)[:, :, :y_shape[2], :y_shape[3]]
        means, scales = params.chunk(2, dim=1)
        scales = F.softplus(scales).clamp(SCALE_MIN, SCALE_MAX)
        # The coder's scale, passed straight through: the trained density is the coded one.
        snapped = scale_table().to(scales)[snap_scales(scales.detach())]
        return means, scales + (snapped - scales).detach()

    def forward(self, x: torch.Tensor, level: torch.Tensor, transform_dtype=None) -> dict:
        """Training pass on images x (n, C, H, W), H and W multiples of STRIDE_Z: the
        reconstruction and the likelihoods of y and z (noisy, for the rate).

        ``transform_dtype`` (e.g. torch.bfloat16) runs the two transforms, nearly all the
        arithmetic, under autocast; y and x_hat come back as float32 and the densities stay
        float32. On this codec bf16 moved y by 0.5% of its RMS (0.04 of a quantisation step
        at the top level) and the decoded PSNR by under 0.02 dB, for 1.5x the training steps
        per second on a CPU with AMX (scripts/train_photo_codec.py --bf16)."""
        gain, inverse = self.gains(level)
        y = self._transform(self.g_a, x, transform_dtype) * gain
        z = self.h_a(y)
        z_noisy = z + torch.empty_like(z).uniform_(-0.5, 0.5) if self.training else torch.round(z)
        z_likelihood = self.bottleneck.likelihood(z_noisy)
        z_hat = z + (torch.round(z) - z).detach()
        means, scales = self.entropy_parameters(z_hat, y.shape)
        if self.training:
            y_noisy = y + torch.empty_like(y).uniform_(-0.5, 0.5)
        else:
            y_noisy = means + torch.round(y - means)
        y_likelihood = gaussian_likelihood(y_noisy, means, scales)
        y_hat = means + (y - means + (torch.round(y - means) - (y - means)).detach())
        x_hat = self._transform(self.g_s, y_hat * inverse, transform_dtype)
        return {"x_hat": x_hat, "y_likelihood": y_likelihood, "z_likelihood": z_likelihood}

    @staticmethod
    def _transform(transform: nn.Module, x: torch.Tensor, dtype) -> torch.Tensor:
        if dtype is None:
            return transform(x)
        with torch.autocast(x.device.type, dtype=dtype):
            return transform(x).float()


def widen_latent(model: PhotoCodec, latent_channels: int) -> PhotoCodec:
    """A copy of ``model`` with more latent channels that reconstructs exactly as it does
    (function-preserving widening, Chen et al. 2016, Net2Net): the new channels' analysis
    filters start small and random, their synthesis and hyper-analysis weights at zero,
    their density at mean 0 and the smallest scale (so they start free), their gains at the
    initial spread. Training then brings them into use where the rate allows, without
    starting the transforms over."""
    old = model.config
    m0, m = old.latent_channels, latent_channels
    if m < m0:
        raise ValueError(f"latent_channels {m} is fewer than the model's {m0}")
    config = replace(old, latent_channels=m, hyper_widths=old.widths())
    wide = PhotoCodec(config)
    src, dst = model.state_dict(), wide.state_dict()
    last_a, first_s, first_h = f"g_a.{len(model.g_a) - 1}", "g_s.0", "h_a.0"
    params = f"h_s.{len(model.h_s) - 1}"
    with torch.no_grad():
        for key, value in src.items():
            target = dst[key]
            if key in (last_a + ".weight", last_a + ".bias"):
                target[m0:] *= 0.1  # new filters start small: a few bits, not hundreds
                target[:m0] = value
            elif key in ("gain", "inverse_gain"):
                target[:, :m0] = value
            elif key in (first_s + ".weight", first_h + ".weight"):
                dim = 0 if key.startswith("g_s") else 1  # (in, out, k, k) / (out, in, k, k)
                target.zero_()
                target.narrow(dim, 0, m0).copy_(value)
            elif key.startswith(params + "."):
                # outputs: means (M of them), then scales (M); the new ones constant
                target.zero_()
                target[:m0] = value[:m0]
                target[m:m + m0] = value[m0:]
                if key.endswith("bias"):  # the smallest scale: a zero costs ~0 bits
                    target[m + m0:] = math.log(math.expm1(SCALE_MIN))
            else:
                target.copy_(value)  # dst's tensors are wide's own (state_dict shares them)
    return wide


def widen_transforms(model: PhotoCodec, channels) -> PhotoCodec:
    """A copy of ``model`` whose transforms have the hidden widths ``channels`` (three, at
    strides 2, 4, 8; none narrower than the model's) and that reconstructs exactly as it does
    (Net2Net, Chen et al. 2016): each new channel's incoming filter and bias start at zero,
    so it outputs 0 (and GDN of 0 is 0), while its outgoing weights start at their random
    initialisation, which gives the incoming filter a gradient from the first step."""
    old = model.config
    config = replace(old, channels=tuple(int(v) for v in channels), hyper_widths=old.widths())
    if any(new < was for new, was in zip(config.transform_widths(), old.transform_widths())):
        raise ValueError(f"channels {config.transform_widths()} are narrower than the model's "
                         f"{old.transform_widths()}")
    wide = PhotoCodec(config)
    src = model.state_dict()
    with torch.no_grad():
        for key, target in wide.state_dict().items():  # the old block, in place
            value = src[key]
            target[tuple(slice(0, n) for n in value.shape)] = value
        for layer, was in zip(wide.modules(), model.modules()):
            if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
                grown = layer.out_channels - was.out_channels
                if grown:
                    out_dim = 1 if isinstance(layer, nn.ConvTranspose2d) else 0
                    layer.weight.narrow(out_dim, was.out_channels, grown).zero_()
                    layer.bias[was.out_channels:] = 0
    return wide


def with_levels(model: PhotoCodec, lambdas) -> PhotoCodec:
    """A copy of ``model`` with the quality levels ``lambdas`` (ascending, and holding the
    model's own): its levels keep their trained gain vectors, and each new level starts from
    the nearest trained one's scaled by sqrt(lambda / lambda_nearest), the high-rate rule the
    initial spread follows (see PhotoCodec). Gains cannot simply be extrapolated past the
    trained ends: two levels below the lowest, the first codec's PSNR fell from 25 to 13 dB."""
    old = model.config
    lambdas = tuple(float(v) for v in lambdas)
    if list(lambdas) != sorted(set(lambdas)) or not set(old.lambdas) <= set(lambdas):
        raise ValueError(f"lambdas {lambdas} must ascend and hold the model's {old.lambdas}")
    config = replace(old, lambdas=lambdas, hyper_widths=old.widths())
    new = PhotoCodec(config)
    state = {k: v for k, v in model.state_dict().items() if "gain" not in k}
    trained = torch.tensor(old.lambdas)
    with torch.no_grad():
        missing, unexpected = new.load_state_dict(state, strict=False)
        assert set(missing) == {"gain", "inverse_gain"} and not unexpected, (missing, unexpected)
        for i, lam in enumerate(lambdas):
            near = int((trained.log() - math.log(lam)).abs().argmin())
            ratio = math.sqrt(lam / old.lambdas[near])
            new.gain[i] = model.gain[near].abs() * ratio
            new.inverse_gain[i] = model.inverse_gain[near].abs() / ratio
    return new


def unstick_gdn(model: nn.Module) -> int:
    """Set GDN off-diagonal roots that are exactly 0 (so never trained: see
    GDN_OFF_DIAGONAL_ROOT) to that small start; returns how many were moved. A no-op on a
    codec built since; on the first pretrained codec it changed the output by < 1e-4."""
    moved = 0
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, GDN):
                root = layer.gamma_root
                stuck = (root == 0) & ~torch.eye(root.shape[0], dtype=torch.bool,
                                                 device=root.device)
                root[stuck] = GDN_OFF_DIAGONAL_ROOT
                moved += int(stuck.sum())
    return moved


def pad_to_stride(x: torch.Tensor, stride: int = STRIDE_Z) -> torch.Tensor:
    """x (n, C, H, W) padded on the bottom and right to multiples of ``stride`` by edge
    replication (no sharp edge for the transforms to spend bits on)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % stride, (-w) % stride
    if ph == 0 and pw == 0:
        return x
    return F.pad(x, (0, pw, 0, ph), mode="replicate")
