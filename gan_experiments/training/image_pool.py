"""History of generated images for the discriminator (Shrivastava et al. 2017; CycleGAN sec. 4).

As junyanz ``ImagePool``: until the pool holds ``size`` images, each new fake is stored and returned;
afterwards each new fake is, with probability 1/2, swapped for a random stored one (the stored image is
returned, the new one takes its place), else returned as is. ``size = 0`` returns the fakes unchanged.
Randomness comes from torch's global generator, so ``seed`` makes it reproducible; the stored images are
part of ``state_dict`` and travel in checkpoints.
"""

from __future__ import annotations

import torch


class ImagePool:
    def __init__(self, size: int = 50):
        if size < 0:
            raise ValueError(f"pool_size must be >= 0, got {size}")
        self.size = size
        self.images: torch.Tensor | None = None  # [count, C, H, W], detached
        self.count = 0

    def query(self, fakes: torch.Tensor) -> torch.Tensor:
        """[N, C, H, W] new fakes -> [N, C, H, W] images for the discriminator (detached)."""
        fakes = fakes.detach()
        if self.size == 0:
            return fakes
        if self.images is None or self.images.shape[1:] != fakes.shape[1:] or self.images.device != fakes.device:
            self._reset_like(fakes)
        out = []
        for fake in fakes:
            if self.count < self.size:
                self.images[self.count] = fake
                self.count += 1
                out.append(fake)
            elif torch.rand(()) > 0.5:
                slot = int(torch.randint(self.size, ()))
                out.append(self.images[slot].clone())
                self.images[slot] = fake
            else:
                out.append(fake)
        return torch.stack(out)

    def _reset_like(self, fakes: torch.Tensor) -> None:
        kept = None if self.images is None else self.images[: self.count].to(fakes.device, fakes.dtype)
        self.images = fakes.new_zeros(self.size, *fakes.shape[1:])
        if kept is not None and kept.shape[1:] == fakes.shape[1:]:
            self.images[: len(kept)] = kept
        else:
            self.count = 0

    def state_dict(self) -> dict:
        images = None if self.images is None else self.images[: self.count].cpu().clone()
        return {"size": self.size, "images": images}

    def load_state_dict(self, state: dict) -> None:
        if state["size"] != self.size:
            raise ValueError(f"checkpoint image pool holds {state['size']} images, this model {self.size}")
        stored = state["images"]
        self.count = 0 if stored is None else len(stored)
        self.images = None
        if stored is not None and self.size:
            self.images = stored.new_zeros(self.size, *stored.shape[1:])
            self.images[: self.count] = stored
