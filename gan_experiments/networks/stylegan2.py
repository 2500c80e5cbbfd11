"""StyleGAN2 networks (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"), as
NVlabs/stylegan2-ada-pytorch ``training/networks.py`` builds them (config F: skip generator, residual
discriminator).

Generator G(z, c) = synthesis(mapping(z, c)):
- mapping: z [N, Z] -> normalize_2nd_moment -> (optional: concat normalize_2nd_moment(embed(c))) ->
  ``mapping_layers`` fully connected layers with LeakyReLU, learning rate x ``mapping_lr_mul`` (0.01) ->
  w [N, W]; in training mode w̄ (``w_avg``) tracks mean(w) with decay ``w_avg_beta``.
- synthesis: a learned constant [C_4, 4, 4]; per resolution r = 4, 8, ..., S a block of modulated 3 x 3
  convolutions (two; one at 4 x 4, the first of the others upsampling x2 with the [1, 3, 3, 1] filter),
  each   x -> modconv(x, A(w)) + B · noise -> LeakyReLU(x + b) · sqrt 2;   and a toRGB (1 x 1 modulated,
  not demodulated) whose output is added to the upsampled image of the block below ("skip" architecture,
  sec. 4.1): img_r = upsample(img_{r/2}) + toRGB_r(x_r).
  Modulated convolution with demodulation (sec. 2.2, eq. 1 and 3):
      w'_ijk = s_i · w_ijk,      w''_ijk = w'_ijk / sqrt(Σ_{i,k} w'_ijk² + ε)
  computed as NVlabs does in training ("non-fused"): x · s, a shared convolution, then · (Σ (s w)²)^-1/2.
  Noise: [N, 1, r, r] ~ N(0, 1) per layer, times a learned scalar strength (initialised to 0).
  ``num_ws`` = the number of convolutions + 1: block r's toRGB shares its w with the next block's
  first convolution, as in NVlabs.
Discriminator D(x, c) (``architecture='resnet'``; 'orig' drops the residual branch, as NVlabs' cifar config):
  fromRGB at S, then per resolution r = S ... 8
      x -> conv3x3 -> LeakyReLU -> conv3x3↓2 (the filter, then stride 2) -> LeakyReLU, + skip: conv1x1↓2(x),
  both branches scaled by sqrt(1/2); at 4 x 4 the epilogue: minibatch standard deviation (group 4, 1 channel),
  conv3x3, FC, FC to one logit [N] — or, conditional (``num_classes`` K > 0) with ``conditioning='projection'``
  (NVlabs ``--cond``): the last FC gives [N, M] and D(x, c) = <out(x), cmap(c)> / sqrt(M), cmap a mapping
  network of one_hot(c); with ``conditioning='acgan'`` an auxiliary classifier head on the epilogue features.
Every layer has an equalized learning rate: weights ~ N(0, 1) scaled by 1/sqrt(fan_in) at run time,
LeakyReLU outputs multiplied by sqrt 2 (NVlabs ``bias_act`` gain); ``conv_clamp`` clamps activations to
±conv_clamp (NVlabs: 256 in mixed precision).
Widths at resolution r: min(channel_base // r, channel_max) (NVlabs; 32768 and 512 is config F).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gan_experiments.networks.conditioning import AuxiliaryClassifierDiscriminator, AuxiliaryClassifierHead
from gan_experiments.networks.fir import conv2d_down, conv2d_up, setup_filter, upsample2d
from gan_experiments.networks.layers import MinibatchStdDev

LRELU_GAIN = math.sqrt(2)
CONDITIONINGS = ("projection", "acgan")


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """x / sqrt(mean_j x_j² + eps) per row, [N, D] -> [N, D] (in fp32)."""
    x = x.float()
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def bias_act(x: torch.Tensor, bias: torch.Tensor | None, lrelu: bool, gain: float = 1.0,
             clamp: float | None = None) -> torch.Tensor:
    """act(x + b) · gain, clamped to ±clamp: act = LeakyReLU(0.2) with gain · sqrt 2, or linear (NVlabs ``bias_act``).
    x [N, C, ...], bias [C]."""
    if bias is not None:
        x = x + bias.to(x.dtype).view(1, -1, *([1] * (x.ndim - 2)))
    if lrelu:
        x = F.leaky_relu(x, 0.2)
        gain = gain * LRELU_GAIN
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp * gain, clamp * gain) if lrelu else x.clamp(-clamp, clamp)
    return x


def stylegan2_widths(image_size: int, channel_base: int, channel_max: int) -> dict[int, int]:
    """{r: min(channel_base // r, channel_max)} for r = 4, 8, ..., S (NVlabs ``channels_dict``)."""
    if not isinstance(image_size, int) or image_size < 4 or image_size & (image_size - 1):
        raise ValueError(f"StyleGAN2 needs data.image_size to be a power of two >= 4, got {image_size!r}")
    widths = {4 * 2**i: min(channel_base // (4 * 2**i), channel_max) for i in range(int(math.log2(image_size)) - 1)}
    if min(widths.values()) < 1:
        raise ValueError(f"channel_base={channel_base} leaves no feature maps at {image_size} px: {widths}")
    return widths


class FullyConnected(nn.Module):
    """[N, in] -> [N, out]: act(x (W / sqrt(in) · lr_mul)ᵀ + b · lr_mul), W ~ N(0, 1 / lr_mul²)."""

    def __init__(self, in_features: int, out_features: int, lrelu: bool = False, lr_mul: float = 1.0,
                 bias_init: float = 0.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init)))
        self.weight_gain, self.lr_mul, self.lrelu = lr_mul / math.sqrt(in_features), lr_mul, lrelu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.matmul((self.weight * self.weight_gain).to(x.dtype).t())
        return bias_act(x, self.bias * self.lr_mul, self.lrelu)


class Conv2dLayer(nn.Module):
    """[N, I, H, W] -> [N, O, H', W']: act(conv(x, W / sqrt(I k²)) + b), ``down`` = 2 filters then strides."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, lrelu: bool = True,
                 bias: bool = True, down: bool = False, conv_clamp: float | None = None):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        self.lrelu, self.down, self.conv_clamp = lrelu, down, conv_clamp
        self.register_buffer("resample_filter", setup_filter(), persistent=False)

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        if self.down:
            x = conv2d_down(x, w, self.resample_filter)
        else:
            x = F.conv2d(x, w, padding=w.shape[-1] // 2)
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        return bias_act(x, self.bias, self.lrelu, gain, clamp)


class MappingNetwork(nn.Module):
    """z [N, Z] (and labels [N] when ``num_classes`` K > 0) -> w [N, W]: normalized z (and normalized
    embed(one_hot(c)), concatenated), then ``num_layers`` FullyConnected with LeakyReLU, lr x ``lr_mul``.
    ``w_avg_beta`` not None: in training mode w̄ <- beta w̄ + (1 - beta) mean(w) (the truncation centre)."""

    def __init__(self, latent_dim: int, w_dim: int, num_layers: int = 8, lr_mul: float = 0.01,
                 num_classes: int = 0, w_avg_beta: float | None = 0.995):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"mapping_layers must be >= 1, got {num_layers}")
        self.latent_dim, self.num_classes, self.w_avg_beta = latent_dim, num_classes, w_avg_beta
        embed_dim = w_dim if num_classes else 0
        self.embed = FullyConnected(num_classes, embed_dim) if num_classes else None
        dims = [latent_dim + embed_dim] + [w_dim] * num_layers
        self.layers = nn.ModuleList(
            FullyConnected(dims[i], dims[i + 1], lrelu=True, lr_mul=lr_mul) for i in range(num_layers))
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor | None, labels: torch.Tensor | None = None,
                update_w_avg: bool = True) -> torch.Tensor:
        parts = [] if z is None or not self.latent_dim else [normalize_2nd_moment(z)]
        if self.num_classes:
            if labels is None:
                raise ValueError(f"this mapping network is conditional on {self.num_classes} classes: pass labels")
            parts.append(normalize_2nd_moment(self.embed(F.one_hot(labels, self.num_classes).float())))
        x = torch.cat(parts, dim=1)
        for layer in self.layers:
            x = layer(x)
        if self.w_avg_beta is not None and self.training and update_w_avg:
            with torch.no_grad():
                self.w_avg.copy_(x.detach().float().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        return x


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True,
                     up: bool = False, resample_filter: torch.Tensor | None = None) -> torch.Tensor:
    """x [N, I, H, W], weight [O, I, k, k] (already scaled), styles s [N, I] -> [N, O, H', W'].

    y = conv(x · s, W) · d,  d_j = (Σ_{i,k} (s_i W_jik)² + 1e-8)^-1/2 per sample and output channel
    (demodulation, StyleGAN2 eq. 3), which equals the convolution with the per-sample weights w''.
    Under fp16 the weights and styles are first divided by their largest magnitudes (NVlabs, against
    overflow); demodulation cancels that scale exactly."""
    n = x.shape[0]
    if demodulate and (x.dtype == torch.float16 or _fp16_autocast(x)):
        weight = weight * (1 / math.sqrt(weight[0].numel()) / weight.abs().amax(dim=(1, 2, 3), keepdim=True))
        styles = styles / styles.abs().amax(dim=1, keepdim=True)
    x = x * styles.to(x.dtype).reshape(n, -1, 1, 1)
    if up:
        x = conv2d_up(x, weight.to(x.dtype), resample_filter)
    else:
        x = F.conv2d(x, weight.to(x.dtype), padding=weight.shape[-1] // 2)
    if demodulate:
        dcoefs = ((weight[None] * styles.reshape(n, 1, -1, 1, 1)).square().sum(dim=(2, 3, 4)) + 1e-8).rsqrt()
        x = x * dcoefs.to(x.dtype).reshape(n, -1, 1, 1)
    return x


def _fp16_autocast(x: torch.Tensor) -> bool:
    device = x.device.type
    return torch.is_autocast_enabled(device) and torch.get_autocast_dtype(device) == torch.float16


class SynthesisLayer(nn.Module):
    """[N, I, r', r'], w [N, W] -> [N, O, r, r] (r = 2 r' when ``up``):
    LeakyReLU(modconv(x, A(w)) + strength · noise + b) · sqrt 2; A: FullyConnected with bias 1."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool = False,
                 conv_clamp: float | None = None):
        super().__init__()
        self.resolution, self.up, self.conv_clamp = resolution, up, conv_clamp
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.register_buffer("resample_filter", setup_filter(), persistent=False)
        self.weight_gain = 1 / math.sqrt(in_channels * 9)

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        """``noise``: [N, 1, r, r] (or [r, r]); drawn from the global generator when None."""
        styles = self.affine(w)
        x = modulated_conv2d(x, self.weight * self.weight_gain, styles, up=self.up, resample_filter=self.resample_filter)
        if noise is None:
            noise = torch.randn(x.shape[0], 1, self.resolution, self.resolution, device=x.device)
        x = x + (noise * self.noise_strength).to(x.dtype)
        return bias_act(x, self.bias, lrelu=True, clamp=self.conv_clamp)


class ToRGB(nn.Module):
    """[N, I, r, r], w [N, W] -> [N, C, r, r]: a 1 x 1 modulated convolution without demodulation, + b."""

    def __init__(self, in_channels: int, channels: int, w_dim: int, conv_clamp: float | None = None):
        super().__init__()
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.weight_gain, self.conv_clamp = 1 / math.sqrt(in_channels), conv_clamp

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False)
        return bias_act(x, self.bias, lrelu=False, clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
    """One resolution r of the skip generator: (x [N, I, r/2, r/2] or the constant), img [N, C, r/2, r/2] or
    None, ws [N, num_conv + 1, W] -> x [N, O, r, r], img [N, C, r, r] = upsample(img) + toRGB(x) in fp32."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, channels: int,
                 conv_clamp: float | None = None):
        super().__init__()
        self.resolution = resolution
        self.const = nn.Parameter(torch.randn(out_channels, 4, 4)) if in_channels == 0 else None
        self.conv0 = None if in_channels == 0 else SynthesisLayer(
            in_channels, out_channels, w_dim, resolution, up=True, conv_clamp=conv_clamp)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, conv_clamp=conv_clamp)
        self.torgb = ToRGB(out_channels, channels, w_dim, conv_clamp=conv_clamp)
        self.num_conv = 1 if in_channels == 0 else 2
        self.register_buffer("resample_filter", setup_filter(), persistent=False)

    def layers(self) -> list[SynthesisLayer]:
        return [self.conv1] if self.conv0 is None else [self.conv0, self.conv1]

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor,
                noise: list[torch.Tensor | None]) -> tuple[torch.Tensor, torch.Tensor]:
        if self.const is not None:
            x = self.const[None].expand(ws.shape[0], -1, -1, -1)
        for i, layer in enumerate(self.layers()):
            x = layer(x, ws[:, i], noise[i])
        if img is not None:
            img = upsample2d(img, self.resample_filter)
        y = self.torgb(x, ws[:, self.num_conv]).float()
        return x, y if img is None else img + y


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, W] (+ noise maps, one per convolution: [N, 1, r, r] or [r, r]) -> images [N, C, S, S]."""

    def __init__(self, w_dim: int, image_size: int, channels: int, channel_base: int, channel_max: int,
                 conv_clamp: float | None = None):
        super().__init__()
        widths = stylegan2_widths(image_size, channel_base, channel_max)
        resolutions = sorted(widths)
        self.blocks = nn.ModuleList(
            SynthesisBlock(0 if r == 4 else widths[r // 2], widths[r], w_dim, r, channels, conv_clamp)
            for r in resolutions)
        self.num_ws = sum(block.num_conv for block in self.blocks) + 1
        self.num_noise = self.num_ws - 1
        self.w_dim = w_dim

    def noise_layers(self) -> list[SynthesisLayer]:
        """The convolutions in order, one per noise map (``noise_const`` of each: NVlabs' 'const' mode)."""
        return [layer for block in self.blocks for layer in block.layers()]

    def forward(self, ws: torch.Tensor, noise: list[torch.Tensor | None] | None = None) -> torch.Tensor:
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must have shape [N, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}")
        noise = list(noise) if noise is not None else [None] * self.num_noise
        if len(noise) != self.num_noise:
            raise ValueError(f"noise must hold one map per convolution ({self.num_noise}), got {len(noise)}")
        x = img = None
        w_idx = 0
        for block in self.blocks:
            x, img = block(x, img, ws[:, w_idx: w_idx + block.num_conv + 1], noise[w_idx: w_idx + block.num_conv])
            w_idx += block.num_conv
        return img


class StyleGAN2Generator(nn.Module):
    """z [N, latent_dim] (+ labels [N]) -> images [N, channels, S, S] (raw, about [-1, 1]).

    ``styles(z, labels)`` -> ws [N, num_ws, W]; ``synthesize(ws, noise)`` -> images; ``truncate(ws, psi,
    cutoff)``: w' = w̄ + psi (w - w̄) on the first ``cutoff`` layers (all when None). Style mixing is the
    training step's (NVlabs does it in the loss's ``run_G``), with ``mix_styles``. Widths:
    ``stylegan2_widths(image_size, channel_base, channel_max)``."""

    def __init__(self, latent_dim: int = 512, w_dim: int = 512, image_size: int = 64, channels: int = 3,
                 num_classes: int = 0, mapping_layers: int = 8, mapping_lr_mul: float = 0.01,
                 channel_base: int = 32768, channel_max: int = 512, w_avg_beta: float = 0.995,
                 conv_clamp: float | None = None):
        super().__init__()
        self.latent_dim, self.w_dim, self.num_classes = latent_dim, w_dim, num_classes
        self.output_shape = (channels, image_size, image_size)
        self.synthesis = SynthesisNetwork(w_dim, image_size, channels, channel_base, channel_max, conv_clamp)
        self.mapping = MappingNetwork(latent_dim, w_dim, mapping_layers, mapping_lr_mul, num_classes, w_avg_beta)

    @property
    def num_ws(self) -> int:
        return self.synthesis.num_ws

    @property
    def w_avg(self) -> torch.Tensor:
        return self.mapping.w_avg

    def styles(self, z: torch.Tensor, labels: torch.Tensor | None = None, update_w_avg: bool = True) -> torch.Tensor:
        """w = mapping(z, c) broadcast to every layer: [N, num_ws, W]."""
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape [N, {self.latent_dim}], got {list(z.shape)}")
        if labels is not None and not self.num_classes:
            raise ValueError("this generator is unconditional (num_classes=0) but labels were passed")
        return self.mapping(z, labels, update_w_avg)[:, None].repeat(1, self.num_ws, 1)

    def mix_styles(self, ws: torch.Tensor, z_mix: torch.Tensor, labels: torch.Tensor | None, cutoff: int) -> torch.Tensor:
        """ws with layers cutoff: taken from mapping(z_mix, c) (w̄ not updated): style mixing, sec. 3.1 of StyleGAN."""
        mixed = ws.clone()
        mixed[:, cutoff:] = self.mapping(z_mix, labels, update_w_avg=False)[:, None]
        return mixed

    def truncate(self, ws: torch.Tensor, psi: float, cutoff: int | None = None) -> torch.Tensor:
        if psi == 1:
            return ws
        out = ws.clone()
        k = self.num_ws if cutoff is None else cutoff
        out[:, :k] = self.w_avg.to(ws.dtype).lerp(ws[:, :k], psi)
        return out

    def synthesize(self, ws: torch.Tensor, noise: list[torch.Tensor | None] | None = None) -> torch.Tensor:
        return self.synthesis(ws, noise)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None, psi: float | None = None,
                truncation_layers: int | None = None, noise: list[torch.Tensor | None] | None = None) -> torch.Tensor:
        ws = self.styles(z, labels)
        if psi is not None:
            ws = self.truncate(ws, psi, truncation_layers)
        return self.synthesize(ws, noise)


class DiscriminatorBlock(nn.Module):
    """Resolution r -> r/2: [N, C_r, r, r] -> [N, C_{r/2}, r/2, r/2] (fromRGB first when it is the top block).
    resnet: (conv1↓(conv0(x)) + skip↓(x)) · sqrt(1/2) (the gains of NVlabs: sqrt .5 on both branches);
    orig: conv1↓(conv0(x))."""

    def __init__(self, in_channels: int, tmp_channels: int, out_channels: int, channels: int,
                 architecture: str, conv_clamp: float | None = None):
        super().__init__()
        self.fromrgb = Conv2dLayer(channels, tmp_channels, 1, conv_clamp=conv_clamp) if in_channels == 0 else None
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, 3, conv_clamp=conv_clamp)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3, down=True, conv_clamp=conv_clamp)
        self.skip = (Conv2dLayer(tmp_channels, out_channels, 1, lrelu=False, bias=False, down=True)
                     if architecture == "resnet" else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fromrgb is not None:
            x = self.fromrgb(x)
        if self.skip is None:
            return self.conv1(self.conv0(x))
        y = self.skip(x, gain=math.sqrt(0.5))
        return y + self.conv1(self.conv0(x), gain=math.sqrt(0.5))


class StyleGAN2Discriminator(AuxiliaryClassifierDiscriminator):
    """images [N, channels, S, S] (+ labels [N] for ``conditioning='projection'``) -> raw logits [N].

    ``num_classes`` K > 0 makes it class-conditional: ``conditioning='projection'`` (NVlabs ``--cond``:
    D(x, c) = <out(φ(x)), cmap(c)> / sqrt(M), cmap = a mapping network of c, M = ``cmap_dim``) or
    ``'acgan'`` (Odena et al. 2017: D(x) ignores c and ``logits_and_classes`` also returns class logits
    [N, K] from the epilogue features φ(x) [N, C_4]). Declares ``AuxiliaryClassifierDiscriminator``;
    ``classifies`` is True only for 'acgan'."""

    def __init__(self, image_size: int = 64, channels: int = 3, num_classes: int = 0,
                 architecture: str = "resnet", channel_base: int = 32768, channel_max: int = 512,
                 mbstd_group_size: int = 4, conditioning: str = "projection", cmap_dim: int | None = None,
                 mapping_layers: int = 8, conv_clamp: float | None = None):
        super().__init__()
        if architecture not in ("resnet", "orig"):
            raise ValueError(f"model.discriminator.architecture must be resnet or orig, got {architecture!r}")
        if conditioning not in CONDITIONINGS:
            raise ValueError(f"model.discriminator.conditioning must be one of {CONDITIONINGS}, got {conditioning!r}")
        widths = stylegan2_widths(image_size, channel_base, channel_max)
        self.input_shape, self.num_classes = (channels, image_size, image_size), num_classes
        self.conditioning = conditioning if num_classes else None
        self.blocks = nn.ModuleList(
            DiscriminatorBlock(0 if r == image_size else widths[r], widths[r], widths[r // 2], channels,
                               architecture, conv_clamp)
            for r in sorted(widths, reverse=True) if r > 4)
        c4 = widths[4]
        self.mbstd = MinibatchStdDev(mbstd_group_size)
        self.fromrgb4 = Conv2dLayer(channels, c4, 1, conv_clamp=conv_clamp) if image_size == 4 else None
        self.conv = Conv2dLayer(c4 + 1, c4, 3, conv_clamp=conv_clamp)
        self.fc = FullyConnected(c4 * 16, c4, lrelu=True)
        self.cmap_dim = (cmap_dim or c4) if self.conditioning == "projection" else 0
        self.out = FullyConnected(c4, self.cmap_dim or 1)
        self.mapping = (MappingNetwork(0, self.cmap_dim, mapping_layers, 0.01, num_classes, w_avg_beta=None)
                        if self.conditioning == "projection" else None)
        self.classifier = AuxiliaryClassifierHead(c4, num_classes) if self.conditioning == "acgan" else None

    @property
    def classifies(self) -> bool:
        return self.classifier is not None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """φ(x): the epilogue's features [N, C_4] before the output layer."""
        if x.shape[1:] != self.input_shape:
            raise ValueError(f"images must have shape [N, {', '.join(map(str, self.input_shape))}], got {list(x.shape)}")
        h = x if self.fromrgb4 is None else self.fromrgb4(x)
        for block in self.blocks:
            h = block(h)
        h = self.conv(self.mbstd(h.float()))
        return self.fc(h.flatten(1))

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        phi = self.features(x)
        out = self.out(phi)
        if self.conditioning != "projection":
            return out.flatten()
        if labels is None:
            raise ValueError("a projection discriminator (conditioning=projection) needs the labels")
        cmap = self.mapping(None, labels)
        return (out * cmap.to(out.dtype)).sum(dim=1) / math.sqrt(self.cmap_dim)

    def logits_and_classes(self, x: torch.Tensor, labels: torch.Tensor | None = None):
        """(logits [N], class logits [N, K] or None): one pass for the adversarial and auxiliary losses."""
        if self.classifier is None:
            return self(x, labels), None
        phi = self.features(x)
        return self.out(phi).flatten(), self.classifier(phi)
