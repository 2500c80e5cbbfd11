"""Adaptive discriminator augmentation (ADA; Karras et al. 2020, "Training Generative Adversarial Networks
with Limited Data"), after NVlabs/stylegan2-ada-pytorch ``training/augment.py`` (the pipeline) and
``training/training_loop.py`` (the ``ada_target`` heuristic).

``AugmentPipe`` T is applied to every image D sees, real and fake, in D's loss and G's: D(T(x)),
D(T(G(z))). It is differentiable w.r.t. the images (twice, for R1 on augmented reals), so G learns through
it. Each enabled transformation is applied to each sample independently with probability
``multiplier * p``; the strength p is a buffer (saved in checkpoints) that ``AdaptiveAugment`` moves.

Geometry (pixel blitting 'b' and general geometry 'g'), images [N, C, H, W]. In centred pixel coordinates
u = (x - (W-1)/2, y - (H-1)/2, 1) (x right, y down), one inverse matrix per sample maps an output pixel to
the input point it reads, G^{-1} u_out = u_in, composed in this order (each factor the identity for a
sample whose draw is gated off; t_x, t_y relative to W, H):

    G^{-1} = F(i)                  x-flip          diag(1 - 2i, 1, 1),  i ~ {0, 1}
           · R(pi/2 · k)           rotate90        k ~ {0, 1, 2, 3}
           · T(-round(t_x W), -round(t_y H))       t ~ U(-xint_max, xint_max)^2
           · S(1/s, 1/s)           scale           log2 s ~ N(0, scale_std^2)
           · R(theta)              rotate (pre)    theta ~ U(-pi, pi) · rotate_max, prob 1 - sqrt(1 - p)
           · S(1/a, a)             aniso           log2 a ~ N(0, aniso_std^2)
           · R(theta')             rotate (post)   same law as the pre-rotation (P(pre or post) = p)
           · T(-t_x W, -t_y H)     xfrac           t ~ N(0, xfrac_std^2)^2

with R(phi) = [[cos phi, -sin phi, 0], [sin phi, cos phi, 0], [0, 0, 1]], S and T the usual scale and
translation: the x-flip is torch.flip(images, [3]), quarter turn k is torch.rot90(images, k, [2, 3]), and
an integer translation moves the content by (+round(t_x W), +round(t_y H)) pixels.

Execution, G^{-1} = B · A with B the blits (first three factors) and A the rest:
- B by exact pixel copies (a gather; reflect, without repeating the edge, beyond the border), then
- A by NVlabs' resampling, applied once to the batch: reflect-pad by the margin the transformed corners
  need (plus the filter's reach), upsample 2x with the orthogonal sym6 wavelet low-pass (zero insertion,
  gain 2 per axis), bilinear ``grid_sample`` (zeros outside, align_corners=False) with NVlabs' half-pixel
  alignment, low-pass with the same filter and keep every second pixel. A sub-pixel warp thus reads a 2x
  oversampled image: less blur and aliasing than plain bilinear.
NVlabs resamples B · A in one pass. Because sym6 is asymmetric, that makes its flips and quarter turns
inexact (its flipped or turned samples of std-1 white noise differ from torch.flip/rot90 by up to ~0.8;
smooth images far less), which is why the blits are separate here. ``exact_blit=False`` (and any non-square image, where a quarter turn
does not map pixels to pixels) runs NVlabs' single pass instead: same draws, same output up to float32
rounding. With exact blits, far outside the image (reached only when a zoom-out or rotation meets an
integer shift) the padding reflects the shifted image, where NVlabs reflects the original.

Colour ('c'), one homogeneous 4x4 matrix per sample acting on (r, g, b, 1), luma axis v = (1, 1, 1, 0)/√3,
composed as C = Sat · Hue · Luma · Contrast · Brightness (brightness first):

    Brightness  translate3d(b, b, b)            b ~ N(0, brightness_std^2)
    Contrast    scale3d(c, c, c)                log2 c ~ N(0, contrast_std^2)   (about 0, not a mean)
    Luma flip   I - 2 v v^T i                   i ~ {0, 1}: c -> c - 2 (c·v) v
    Hue         Rodrigues rotation about v      theta ~ U(-pi, pi) · hue_max
    Saturation  v v^T + (I - v v^T) s           log2 s ~ N(0, saturation_std^2)

RGB: out = C[:3, :3] c + C[:3, 3]. One channel (as NVlabs): hue and saturation are skipped (neither draws
random numbers), and the gray value y maps to y · sum_j m_j + m_3 with m the mean of C's first three rows,
so brightness adds b, contrast scales by c and a luma flip negates.

Random draws, in NVlabs' order from torch's global generator, float32: for each enabled transformation (in
the order above; geometry, then colour) its value first, then its gate u ~ U(0, 1), applied where
u < multiplier · p. Other differences from NVlabs, at rounding level: samples whose A (colour matrix) is
exactly the identity are returned untouched (NVlabs resamples them, reproducing them up to rounding), so
p = 0 is exactly the identity; matrix products, the sampling grid and the FIR filters are elementwise
sums (no matmul or conv), so TF32 settings cannot degrade them; the arithmetic runs in float32 (float64
for float64 input) with autocast off, and the result has the input's dtype. The image-space filter, noise
and cutout groups are not implemented.

``AdaptiveAugment`` is the controller (paper sec. 3, NVlabs ``training_loop``): r_t = E[sign(D(x_real))]
over the last ``interval`` minibatches, and

    p <- max(0, p + sign(r_t - target) · N_images / (kimg · 1000)),

N_images the real images of those minibatches (NVlabs: batch_size · ada_interval), so p can move by one
unit in ``kimg`` thousand images. As NVlabs, p is not capped at 1 (multiplier · p >= 1 means always).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

# Low-pass decomposition filter of the Symlet-6 wavelet (12 taps, sum sqrt(2), orthogonal to its even shifts).
SYM6 = (0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
        0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
        -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148)
_PAD = len(SYM6) // 4  # NVlabs' Hz_pad: the filter's reach in input pixels, per side

BLIT = ("xflip", "rotate90", "xint")
GEOM = ("scale", "rotate", "aniso", "xfrac")
COLOR = ("brightness", "contrast", "lumaflip", "hue", "saturation")
TRANSFORMS = BLIT + GEOM + COLOR
PRESETS: dict[str, tuple[str, ...]] = {
    "blit": BLIT, "geom": GEOM, "color": COLOR, "bg": BLIT + GEOM, "bgc": BLIT + GEOM + COLOR,
    "b": BLIT, "g": GEOM, "c": COLOR,  # short names for the single groups
}
Preset = Literal["blit", "geom", "color", "bg", "bgc", "b", "g", "c"]


# --- batched matrices, [N, R, C], products written out (no matmul: immune to TF32) --------------------


def _matrix(rows: list[list[torch.Tensor | float]], like: torch.Tensor) -> torch.Tensor:
    """Rows of [N] tensors or numbers -> [N, len(rows), len(rows[0])], like ``like``'s dtype and device."""
    n = like.shape[0]
    elems = [e if isinstance(e, torch.Tensor) else like.new_full((n,), float(e)) for row in rows for e in row]
    return torch.stack(elems, dim=-1).reshape(n, len(rows), len(rows[0]))


def _mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Batched a @ b as an elementwise sum: [..., R, K] x [..., K, C] -> [..., R, C]."""
    return (a.unsqueeze(-1) * b.unsqueeze(-3)).sum(-2)


def translate2d(tx: torch.Tensor | float, ty: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    return _matrix([[1, 0, tx], [0, 1, ty], [0, 0, 1]], like)


def scale2d(sx: torch.Tensor | float, sy: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    return _matrix([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], like)


def rotate2d(theta: torch.Tensor) -> torch.Tensor:
    c, s = torch.cos(theta), torch.sin(theta)
    return _matrix([[c, -s, 0], [s, c, 0], [0, 0, 1]], theta)


def _luma_axis(like: torch.Tensor) -> torch.Tensor:
    """v = (1, 1, 1, 0) / sqrt(3), [4]."""
    return torch.tensor([1.0, 1.0, 1.0, 0.0], dtype=like.dtype, device=like.device) / math.sqrt(3)


def rotate3d(axis: tuple[float, float, float], theta: torch.Tensor) -> torch.Tensor:
    """Rotation by theta [N] about a unit axis in RGB (Rodrigues), homogeneous: [N, 4, 4]."""
    x, y, z = axis
    c, s = torch.cos(theta), torch.sin(theta)
    cc = 1 - c
    return _matrix([[x * x * cc + c, x * y * cc - z * s, x * z * cc + y * s, 0],
                    [y * x * cc + z * s, y * y * cc + c, y * z * cc - x * s, 0],
                    [z * x * cc - y * s, z * y * cc + x * s, z * z * cc + c, 0],
                    [0, 0, 0, 1]], theta)


# --- executing the matrices ------------------------------------------------------------------------


def _fir(x: torch.Tensor, taps: tuple[float, ...], dim: int, stride: int = 1) -> torch.Tensor:
    """'Valid' correlation along ``dim``: y[j] = sum_k taps[k] x[stride·j + k], j < (L - K) // stride + 1."""
    span = (x.shape[dim] - len(taps)) // stride * stride + 1
    index = [slice(None)] * x.dim()
    out = None
    for k, tap in enumerate(taps):
        index[dim] = slice(k, k + span, stride)
        out = tap * x[tuple(index)] if out is None else out + tap * x[tuple(index)]
    return out


def _pad_dim(x: torch.Tensor, dim: int, before: int, after: int) -> torch.Tensor:
    return F.pad(x, [0, 0] * (x.dim() - 1 - dim) + [before, after])


def _upsample2x(x: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] -> [N, C, 2H, 2W], NVlabs ``upfirdn2d.upsample2d`` with the normalised sym6 filter f:
    zeros inserted after every pixel, zero-padded (6, 5), convolved with 2f per axis. Computed polyphase:
    y[2j] = sum_q r[2q] x[j + q - 3] and y[2j + 1] = sum_q r[2q + 1] x[j + q - 2], r = 2f reversed (the
    convolution as a correlation), so no multiplication by the inserted zeros."""
    r = tuple(2 * f / sum(SYM6) for f in reversed(SYM6))
    for dim in (3, 2):
        even = _fir(_pad_dim(x, dim, 3, 2), r[0::2], dim)
        odd = _fir(_pad_dim(x, dim, 2, 3), r[1::2], dim)
        x = torch.stack([even, odd], dim=dim + 1).flatten(dim, dim + 1)
    return x


def _downsample2x(x: torch.Tensor) -> torch.Tensor:
    """[N, C, 2H + 4·_PAD, 2W + 4·_PAD] -> [N, C, H, W], NVlabs ``downsample2d(..., padding=-2·Hz_pad,
    flip_filter=True)``: crop 2·_PAD - 5 per side, correlate with the normalised sym6 filter, keep every
    second sample (only those are computed)."""
    taps = tuple(f / sum(SYM6) for f in SYM6)
    crop = 2 * _PAD - (len(SYM6) - 1) // 2
    x = _fir(x[:, :, crop:-crop, crop:-crop], taps, dim=3, stride=2)
    return _fir(x, taps, dim=2, stride=2)


def _margins(g_inv: torch.Tensor, h: int, w: int) -> tuple[int, int, int, int]:
    """Reflect padding (left, right, top, bottom) that holds every input point the output corners read,
    plus the filter's reach, clamped to [0, side - 1] (one host sync)."""
    cx, cy = (w - 1) / 2, (h - 1) / 2
    corners = torch.tensor([[-cx, cx, cx, -cx], [-cy, -cy, cy, cy], [1, 1, 1, 1]], dtype=g_inv.dtype,
                           device=g_inv.device)  # [xyz, corner]
    reach = _mm(g_inv, corners.expand(g_inv.shape[0], 3, 4))[:, :2].transpose(0, 1).flatten(1)  # [xy, N·4]
    extent = torch.cat([-reach, reach]).amax(dim=1)  # [left, top, right, bottom]
    base = torch.tensor([2 * _PAD - cx, 2 * _PAD - cy] * 2, dtype=g_inv.dtype, device=g_inv.device)
    limit = torch.tensor([w - 1, h - 1] * 2, dtype=g_inv.dtype, device=g_inv.device)
    left, top, right, bottom = (extent + base).clamp(min=0).minimum(limit).ceil().to(torch.int64).tolist()
    return left, right, top, bottom


def _affine_grid(theta: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """``F.affine_grid(theta, [N, C, h, w], align_corners=False)`` written out: [N, h, w, 2]."""
    xs = (torch.arange(w, dtype=theta.dtype, device=theta.device) * 2 + 1) / w - 1
    ys = (torch.arange(h, dtype=theta.dtype, device=theta.device) * 2 + 1) / h - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    t = theta[:, :, :, None, None]  # [N, 2, 3, 1, 1]
    return torch.stack([t[:, i, 0] * gx + t[:, i, 1] * gy + t[:, i, 2] for i in range(2)], dim=-1)


def warp(images: torch.Tensor, g_inv: torch.Tensor) -> torch.Tensor:
    """Resample [N, C, H, W] images through [N, 3, 3] inverse matrices (output pixel -> input point, centred
    pixel coordinates) as NVlabs: reflect pad, 2x sym6 upsampling, bilinear grid_sample, 2x sym6 downsampling.
    Samples whose matrix is exactly the identity come back untouched."""
    h, w = images.shape[2:]
    identity = (g_inv == torch.eye(3, dtype=g_inv.dtype, device=g_inv.device)).flatten(1).all(dim=1)
    if bool(identity.all()):  # e.g. p = 0: nothing to resample (one host sync; _margins needs one anyway)
        return images
    left, right, top, bottom = _margins(g_inv, h, w)
    x = F.pad(images, [left, right, top, bottom], mode="reflect")
    g = _mm(translate2d((left - right) / 2, (top - bottom) / 2, g_inv), g_inv)
    x = _upsample2x(x)
    g = _mm(_mm(scale2d(2, 2, g), g), scale2d(0.5, 0.5, g))  # in upsampled pixels
    g = _mm(_mm(translate2d(-0.5, -0.5, g), g), translate2d(0.5, 0.5, g))  # NVlabs' half-pixel alignment
    out_h, out_w = (h + 2 * _PAD) * 2, (w + 2 * _PAD) * 2
    g = _mm(_mm(scale2d(2 / x.shape[3], 2 / x.shape[2], g), g), scale2d(out_w / 2, out_h / 2, g))  # normalised
    x = F.grid_sample(x, _affine_grid(g[:, :2], out_h, out_w), mode="bilinear", padding_mode="zeros",
                      align_corners=False)
    x = _downsample2x(x)
    return torch.where(identity[:, None, None, None], images, x)


def _reflect(index: torch.Tensor, size: int) -> torch.Tensor:
    """Mirror integer indices into [0, size - 1] without repeating the edge (``F.pad`` mode 'reflect'),
    valid for indices in [-(size - 1), 2 (size - 1)]."""
    index = torch.where(index < 0, -index, index)
    return torch.where(index > size - 1, 2 * (size - 1) - index, index)


def blit(images: torch.Tensor, b_inv: torch.Tensor) -> torch.Tensor:
    """Exact pixel copies: out(u) = images(B u) for [N, 3, 3] matrices B that map pixel centres to pixel
    centres (x-flips, quarter turns of a square image, integer translations), reflect beyond the border.
    [N, C, H, W] -> [N, C, H, W]; a gather, so differentiable (twice) w.r.t. the images."""
    n, c, h, w = images.shape
    xs = torch.arange(w, dtype=b_inv.dtype, device=b_inv.device) - (w - 1) / 2
    ys = torch.arange(h, dtype=b_inv.dtype, device=b_inv.device) - (h - 1) / 2
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    t = b_inv[:, :2, :, None, None]  # [N, 2, 3, 1, 1]
    src_x = torch.round(t[:, 0, 0] * gx + t[:, 0, 1] * gy + t[:, 0, 2] + (w - 1) / 2).to(torch.int64)
    src_y = torch.round(t[:, 1, 0] * gx + t[:, 1, 1] * gy + t[:, 1, 2] + (h - 1) / 2).to(torch.int64)
    index = (_reflect(src_y, h) * w + _reflect(src_x, w)).flatten(1)  # [N, H·W]
    return images.flatten(2).gather(2, index[:, None].expand(n, c, h * w)).view(n, c, h, w)


def recolour(images: torch.Tensor, colour: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] images, C = 3: each pixel's (r, g, b) -> colour[:3, :3] (r, g, b) + colour[:3, 3];
    C = 1: y -> y · sum_j m_j + m_3, m the mean of colour's first three rows. colour [N, 4, 4]."""
    if images.shape[1] == 3:
        linear = (colour[:, :3, :3, None, None] * images[:, None]).sum(dim=2)  # [N, 3, H, W]
        return linear + colour[:, :3, 3, None, None]
    m = colour[:, :3].mean(dim=1)  # [N, 4]
    return images * m[:, :3].sum(dim=1)[:, None, None, None] + m[:, 3, None, None, None]


# --- the pipeline ----------------------------------------------------------------------------------


def _uniform(like: torch.Tensor, *shape: int) -> torch.Tensor:
    """U(0, 1) draws of ``shape``, float32 from the global generator (NVlabs' stream), then ``like``'s dtype."""
    return torch.rand(shape, dtype=torch.float32, device=like.device).to(like.dtype)


def _normal(like: torch.Tensor, *shape: int) -> torch.Tensor:
    return torch.randn(shape, dtype=torch.float32, device=like.device).to(like.dtype)


def _gated(value: torch.Tensor, identity: float, probability: torch.Tensor) -> torch.Tensor:
    """``value`` [N, ...] where a fresh u ~ U(0, 1) (one per sample, drawn after the value) is < probability,
    else the identity value."""
    u = torch.rand(value.shape[0], dtype=torch.float32, device=value.device)
    u = u.reshape((-1,) + (1,) * (value.dim() - 1))
    return torch.where(u < probability, value, torch.full_like(value, identity))


class AugmentPipe(nn.Module):
    """T(images): ADA's 'bgc' pipeline (see the module docstring for the matrices and the draw order).

    ``preset`` enables a group ('blit' or 'b', 'geom' or 'g', 'color' or 'c', 'bg', 'bgc') at multiplier 1;
    each per-transformation multiplier (None: 1 if the preset holds it, else 0) overrides it. A
    transformation is applied to a sample with probability min(1, multiplier · p). ``p`` in [0, 1] is the
    initial strength (ADA starts at 0), kept in the buffer ``p`` (``AdaptiveAugment`` may take it above 1,
    as NVlabs). The ``*_std``/``*_max`` strengths are NVlabs' defaults (``xint_max`` at most 0.5).
    ``exact_blit``: flips, quarter turns and integer shifts as exact pixel copies before the resampling
    (default); False resamples everything in one pass exactly as NVlabs (see the module docstring).

    forward: [N, C, H, W] float images (C = 1 or 3, any float dtype; computed in float32 or float64 with
    autocast off) -> [N, C, H, W] in the input's dtype, differentiable w.r.t. the images.
    """

    def __init__(
        self,
        preset: Preset | None = None,
        p: float = 0.0,
        *,
        xflip: float | None = None,
        rotate90: float | None = None,
        xint: float | None = None,
        scale: float | None = None,
        rotate: float | None = None,
        aniso: float | None = None,
        xfrac: float | None = None,
        brightness: float | None = None,
        contrast: float | None = None,
        lumaflip: float | None = None,
        hue: float | None = None,
        saturation: float | None = None,
        xint_max: float = 0.125,
        scale_std: float = 0.2,
        rotate_max: float = 1.0,
        aniso_std: float = 0.2,
        xfrac_std: float = 0.125,
        brightness_std: float = 0.2,
        contrast_std: float = 0.5,
        hue_max: float = 1.0,
        saturation_std: float = 1.0,
        exact_blit: bool = True,
    ):
        super().__init__()
        if preset is not None and preset not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)} or None, got {preset!r}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p}")
        given = dict(xflip=xflip, rotate90=rotate90, xint=xint, scale=scale, rotate=rotate, aniso=aniso,
                     xfrac=xfrac, brightness=brightness, contrast=contrast, lumaflip=lumaflip, hue=hue,
                     saturation=saturation)
        enabled = PRESETS[preset] if preset is not None else ()
        self.multiplier = {name: float(value) if value is not None else float(name in enabled)
                           for name, value in given.items()}
        strengths = dict(xint_max=xint_max, scale_std=scale_std, rotate_max=rotate_max, aniso_std=aniso_std,
                         xfrac_std=xfrac_std, brightness_std=brightness_std, contrast_std=contrast_std,
                         hue_max=hue_max, saturation_std=saturation_std)
        for name, value in {**self.multiplier, **strengths}.items():
            if not value >= 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        self.xint_max, self.scale_std, self.rotate_max, self.aniso_std = xint_max, scale_std, rotate_max, aniso_std
        self.xfrac_std, self.brightness_std, self.contrast_std = xfrac_std, brightness_std, contrast_std
        self.hue_max, self.saturation_std = hue_max, saturation_std
        if xint_max > 0.5:
            raise ValueError(f"xint_max must be <= 0.5 (a shift of at most half the image), got {xint_max}")
        self.preset, self.exact_blit = preset, exact_blit
        self.register_buffer("p", torch.tensor(float(p)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4 or images.shape[1] not in (1, 3) or not images.is_floating_point():
            raise ValueError(f"images must be float [N, C, H, W] with C = 1 or 3, got {images.dtype} "
                             f"of shape {tuple(images.shape)}")
        n, c, h, w = images.shape
        dtype = torch.promote_types(images.dtype, torch.float32)
        with torch.autocast(device_type=images.device.type, enabled=False):
            x = images.to(dtype)
            if any(self.multiplier[name] > 0 for name in BLIT + GEOM):
                x = self._geometry(x, *self.geometry_matrices(n, h, w, images.device, dtype))
            if any(self.multiplier[name] > 0 for name in self._colour_transforms(c)):
                x = recolour(x, self.colour_matrices(n, c, images.device, dtype))
        return x.to(images.dtype)

    def _geometry(self, x: torch.Tensor, b: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """out(u) = x(B A u): B by exact pixel copies then A resampled (square images with ``exact_blit``),
        else B A in one resampling (NVlabs)."""
        if not self.exact_blit or x.shape[2] != x.shape[3]:
            return warp(x, _mm(b, a))
        if any(self.multiplier[name] > 0 for name in BLIT):
            x = blit(x, b)
        return warp(x, a) if any(self.multiplier[name] > 0 for name in GEOM) else x

    def _colour_transforms(self, channels: int) -> tuple[str, ...]:
        return COLOR if channels == 3 else ("brightness", "contrast", "lumaflip")

    def geometry_matrices(self, n: int, h: int, w: int, device: torch.device,
                          dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw G^{-1} = B · A in the module docstring's order: B [n, 3, 3] the blits (x-flip, rotate90,
        integer translation), A [n, 3, 3] the general part (scale, rotations, aniso, fractional translation);
        both map output pixels to input points."""
        m, p = self.multiplier, self.p
        eye = torch.eye(3, dtype=dtype, device=device).expand(n, 3, 3)
        b = eye
        if m["xflip"] > 0:
            i = _gated(torch.floor(_uniform(b, n) * 2), 0, m["xflip"] * p)
            b = _mm(b, scale2d(1 - 2 * i, 1, b))
        if m["rotate90"] > 0:
            k = _gated(torch.floor(_uniform(b, n) * 4), 0, m["rotate90"] * p)
            b = _mm(b, rotate2d(math.pi / 2 * k))
        if m["xint"] > 0:
            t = _gated((_uniform(b, n, 2) * 2 - 1) * self.xint_max, 0, m["xint"] * p)  # one gate for both axes
            b = _mm(b, translate2d(-torch.round(t[:, 0] * w), -torch.round(t[:, 1] * h), b))
        a = eye
        if m["scale"] > 0:
            s = _gated(torch.exp2(_normal(a, n) * self.scale_std), 1, m["scale"] * p)
            a = _mm(a, scale2d(1 / s, 1 / s, a))
        p_rot = 1 - torch.sqrt((1 - m["rotate"] * p).clamp(0, 1))  # P(pre or post) = rotate · p
        if m["rotate"] > 0:
            a = _mm(a, rotate2d(_gated((_uniform(a, n) * 2 - 1) * math.pi * self.rotate_max, 0, p_rot)))
        if m["aniso"] > 0:
            s = _gated(torch.exp2(_normal(a, n) * self.aniso_std), 1, m["aniso"] * p)
            a = _mm(a, scale2d(1 / s, s, a))
        if m["rotate"] > 0:
            a = _mm(a, rotate2d(_gated((_uniform(a, n) * 2 - 1) * math.pi * self.rotate_max, 0, p_rot)))
        if m["xfrac"] > 0:
            t = _gated(_normal(a, n, 2) * self.xfrac_std, 0, m["xfrac"] * p)
            a = _mm(a, translate2d(-t[:, 0] * w, -t[:, 1] * h, a))
        return b, a

    def colour_matrices(self, n: int, c: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """Draw C, [n, 4, 4] (homogeneous RGB in -> out), in the module docstring's order; hue and saturation
        only for c = 3."""
        m, p = self.multiplier, self.p
        eye = torch.eye(4, dtype=dtype, device=device)
        colour = eye.expand(n, 4, 4)
        v = _luma_axis(eye)
        vvt = torch.outer(v, v)
        if m["brightness"] > 0:
            b = _gated(_normal(eye, n) * self.brightness_std, 0, m["brightness"] * p)
            colour = _mm(_matrix([[1, 0, 0, b], [0, 1, 0, b], [0, 0, 1, b], [0, 0, 0, 1]], b), colour)
        if m["contrast"] > 0:
            k = _gated(torch.exp2(_normal(eye, n) * self.contrast_std), 1, m["contrast"] * p)
            colour = _mm(_matrix([[k, 0, 0, 0], [0, k, 0, 0], [0, 0, k, 0], [0, 0, 0, 1]], k), colour)
        if m["lumaflip"] > 0:
            i = _gated(torch.floor(_uniform(eye, n) * 2), 0, m["lumaflip"] * p)
            colour = _mm(eye - 2 * vvt * i[:, None, None], colour)  # Householder reflection
        if m["hue"] > 0 and c > 1:
            theta = _gated((_uniform(eye, n) * 2 - 1) * math.pi * self.hue_max, 0, m["hue"] * p)
            colour = _mm(rotate3d((1 / math.sqrt(3),) * 3, theta), colour)
        if m["saturation"] > 0 and c > 1:
            s = _gated(torch.exp2(_normal(eye, n) * self.saturation_std), 1, m["saturation"] * p)
            colour = _mm(vvt + (eye - vvt) * s[:, None, None], colour)
        return colour

    def extra_repr(self) -> str:
        on = ", ".join(f"{k}={v:g}" for k, v in self.multiplier.items() if v > 0) or "nothing enabled"
        return f"preset={self.preset}, p={float(self.p):.4f}, {on}"


class AdaptiveAugment(nn.Module):
    """ADA's controller of an ``AugmentPipe``'s p (paper sec. 3; NVlabs ``ada_target``, ``ada_interval``,
    ``ada_kimg``).

    Per discriminator minibatch: ``accumulate(d_real_logits)`` with D's logits on the (augmented) reals, then
    ``step(pipe, batch_size)`` with this process's number of real images. Every ``interval``-th step,
    r_t = sum sign(D(x_real)) / count over those minibatches (summed over DDP ranks when torch.distributed
    is initialized: every rank must call ``step``), and

        p <- max(0, p + sign(r_t - target) · N_images / (kimg · 1000))

    (N_images: the real images of the interval, all ranks; NVlabs: batch_size · ada_interval). ``target =
    None`` keeps p fixed and still reports r_t. p lives only in the pipe's buffer; the controller's own state
    (the sign sum, a buffer on D's device so ``accumulate`` never waits for the GPU; the counts and the
    minibatch counter, host-side extra state; the last r_t) is in ``state_dict``, so a resume continues
    exactly. One host sync per ``interval`` minibatches.
    """

    def __init__(self, target: float | None = 0.6, interval: int = 4, kimg: float = 500.0):
        super().__init__()
        if target is not None and not 0.0 <= target <= 1.0:
            raise ValueError(f"target must be in [0, 1] or None, got {target}")
        if interval < 1:
            raise ValueError(f"interval must be >= 1 minibatch, got {interval}")
        if not kimg > 0:
            raise ValueError(f"kimg must be > 0, got {kimg}")
        self.target, self.interval, self.kimg = target, interval, kimg
        self.register_buffer("sign_sum", torch.zeros((), dtype=torch.float64))
        self.sign_count = 0  # logits accumulated since the last update (this process)
        self.images = 0  # real images since the last update (this process)
        self.minibatches = 0  # steps since construction
        self.rt: float | None = None  # the last r_t, for logging

    def accumulate(self, d_real_logits: torch.Tensor) -> None:
        """Add sum(sign(D(x_real))) and the number of logits (any shape: one per sample or per patch)."""
        if d_real_logits.numel() == 0:
            raise ValueError("d_real_logits is empty: pass D's logits on this minibatch's real images")
        self.sign_sum += d_real_logits.detach().sign().sum(dtype=torch.float64).to(self.sign_sum.device)
        self.sign_count += d_real_logits.numel()

    def step(self, pipe: AugmentPipe, batch_size: int) -> float | None:
        """Count one minibatch of ``batch_size`` real images; every ``interval``-th call, update ``pipe.p``
        and return r_t (else None)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.minibatches += 1
        self.images += batch_size
        if self.minibatches % self.interval != 0:
            return None
        local = torch.stack([self.sign_sum, self.sign_sum.new_tensor(self.sign_count),
                             self.sign_sum.new_tensor(self.images)])
        sign_sum, count, images = _all_reduce(local).tolist()
        if count == 0:
            raise RuntimeError(f"AdaptiveAugment.step: no D(x_real) logits in the last {self.interval} minibatches; "
                               "call accumulate(d_real_logits) in every discriminator step")
        self.rt = sign_sum / count
        if self.target is not None:
            direction = (self.rt > self.target) - (self.rt < self.target)
            pipe.p.fill_(max(0.0, float(pipe.p) + direction * images / (self.kimg * 1000)))
        self.sign_sum.zero_()
        self.sign_count = self.images = 0
        return self.rt

    def get_extra_state(self) -> dict[str, int | float | None]:
        return {"sign_count": self.sign_count, "images": self.images, "minibatches": self.minibatches,
                "rt": self.rt}

    def set_extra_state(self, state: dict[str, int | float | None]) -> None:
        self.sign_count, self.images = state["sign_count"], state["images"]
        self.minibatches, self.rt = state["minibatches"], state["rt"]

    def extra_repr(self) -> str:
        return f"target={self.target}, interval={self.interval}, kimg={self.kimg:g}"


def _all_reduce(stats: torch.Tensor) -> torch.Tensor:
    """Sum over DDP ranks when torch.distributed is initialized (every rank must call); else unchanged."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(stats)
    return stats
