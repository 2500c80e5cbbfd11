"""FIR resampling of StyleGAN2 (Karras et al. 2020, sec. 2 and app. B; NVlabs ``upfirdn2d``) in plain PyTorch.

``upfirdn2d(x, f, up, down, padding, gain)``: upsample by zero insertion (factor ``up``), pad (negative
values crop), convolve every channel with the 2-D filter ``f`` times ``gain``, keep every ``down``-th
pixel: [N, C, H, W] -> [N, C, (H·up + p0 + p1 - k + 1) / down, ...] for a k x k filter.

The StyleGAN2 filter is the separable binomial [1, 3, 3, 1]: ``setup_filter`` returns its outer product
normalised to sum 1, so a constant image keeps its value away from the borders (with ``gain`` = up²
for upsampling, because zero insertion leaves 1 of up² pixels non-zero).

- ``upsample2d``: [N, C, H, W] -> [N, C, 2H, 2W]
- ``downsample2d``: [N, C, H, W] -> [N, C, H/2, W/2]
- ``conv2d_up`` / ``conv2d_down``: a convolution fused with the resampling as NVlabs ``conv2d_resample``
  orders it (transposed stride-2 convolution then the filter; the filter then a stride-2 convolution),
  with its padding rules, so output sizes and border handling match the reference.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

BINOMIAL_4 = (1.0, 3.0, 3.0, 1.0)


def setup_filter(taps: Sequence[float] = BINOMIAL_4) -> torch.Tensor:
    """The separable 2-D filter f = t tᵀ / (Σt)², [k, k], summing to 1."""
    t = torch.as_tensor(taps, dtype=torch.float32)
    if t.ndim != 1 or len(t) < 1 or t.sum() == 0:
        raise ValueError(f"resample filter taps must be a non-empty 1-D sequence with a non-zero sum, got {taps!r}")
    return torch.outer(t, t) / t.sum() ** 2


def upfirdn2d(x: torch.Tensor, f: torch.Tensor, up: int = 1, down: int = 1,
              padding: tuple[int, int, int, int] = (0, 0, 0, 0), gain: float = 1.0) -> torch.Tensor:
    """Upsample (zero insertion), pad (x0, x1, y0, y1; negative crops), FIR-filter, downsample.
    x [N, C, H, W], f [k, k] -> [N, C, H', W'] in x's dtype. The filter is applied as a convolution
    (flipped), which for the symmetric filters used here equals correlation."""
    n, c, h, w = x.shape
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, (0, up - 1, 0, 0, 0, up - 1))
        x = x.reshape(n, c, h * up, w * up)
    px0, px1, py0, py1 = padding
    x = F.pad(x, (max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)))
    x = x[:, :, max(-py0, 0): x.shape[2] - max(-py1, 0), max(-px0, 0): x.shape[3] - max(-px1, 0)]
    kernel = (f * gain).flip([0, 1]).to(x.dtype)[None, None].expand(c, 1, *f.shape)
    x = F.conv2d(x, kernel, groups=c)
    return x[:, :, ::down, ::down] if down > 1 else x


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2) -> torch.Tensor:
    """[N, C, H, W] -> [N, C, up·H, up·W]: zero insertion, then f · up² (NVlabs ``upsample2d``)."""
    k = f.shape[-1]
    p0, p1 = (k + up - 1) // 2, (k - up) // 2
    return upfirdn2d(x, f, up=up, padding=(p0, p1, p0, p1), gain=up**2)


def downsample2d(x: torch.Tensor, f: torch.Tensor, down: int = 2) -> torch.Tensor:
    """[N, C, H, W] -> [N, C, H/down, W/down]: f, then every down-th pixel (NVlabs ``downsample2d``)."""
    k = f.shape[-1]
    p0, p1 = (k - down + 1) // 2, (k - down) // 2
    return upfirdn2d(x, f, down=down, padding=(p0, p1, p0, p1))


def conv2d_up(x: torch.Tensor, weight: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """A k x k convolution at twice the resolution: [N, I, H, W], weight [O, I, k, k] -> [N, O, 2H, 2W].
    A transposed stride-2 convolution, then f · 4 with the padding that makes the size exactly 2H
    (NVlabs ``conv2d_resample`` with up=2: equivalent to zero insertion, f, then the convolution)."""
    kw, fw = weight.shape[-1], f.shape[-1]
    pad = kw // 2
    p0 = pad + (fw + 1) // 2 - (kw - 1)
    p1 = pad + (fw - 2) // 2 - (kw - 2)
    x = F.conv_transpose2d(x, weight.transpose(0, 1).flip([2, 3]), stride=2)
    return upfirdn2d(x, f, padding=(p0, p1, p0, p1), gain=4)


def conv2d_down(x: torch.Tensor, weight: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """A k x k convolution at half the resolution: [N, I, H, W], weight [O, I, k, k] -> [N, O, H/2, W/2].
    f first (the low-pass that prevents aliasing), then a stride-2 convolution; a 1 x 1 kernel
    downsamples first (NVlabs ``conv2d_resample`` with down=2)."""
    kw, fw = weight.shape[-1], f.shape[-1]
    if kw == 1:
        return F.conv2d(downsample2d(x, f), weight)
    pad = kw // 2
    p0, p1 = pad + (fw - 1) // 2, pad + (fw - 2) // 2
    return F.conv2d(upfirdn2d(x, f, padding=(p0, p1, p0, p1)), weight, stride=2)
