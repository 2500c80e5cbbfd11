"""Test callbacks: save each rank's weights or first latents (distributed runs), send a signal (preemption)."""

from pathlib import Path

import torch
from lightning import Callback


class SaveRankWeights(Callback):
    def __init__(self, dirpath: str):
        self.dirpath = Path(dirpath)

    def on_train_end(self, trainer, pl_module):
        state = {k: v.detach().cpu().clone() for k, v in pl_module.state_dict().items()}
        torch.save(state, self.dirpath / f"rank{trainer.global_rank}.pt")


class SaveFirstLatents(Callback):
    """Records the first latent batch each rank draws (to check ranks sample different z)."""

    def __init__(self, dirpath: str):
        self.dirpath = Path(dirpath)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == 0 and trainer.current_epoch == 0:
            state = torch.random.get_rng_state()
            torch.save(pl_module.sample_latent(4).cpu(), self.dirpath / f"z_rank{trainer.global_rank}.pt")
            torch.random.set_rng_state(state)


class SendSignal(Callback):
    """Sends ``signum`` to this process after batch ``batch`` of epoch ``epoch`` (a simulated preemption)."""

    def __init__(self, signum: int, epoch: int, batch: int):
        self.signum, self.epoch, self.batch = signum, epoch, batch

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.current_epoch == self.epoch and batch_idx == self.batch:
            import os

            os.kill(os.getpid(), self.signum)


class RaiseOutOfMemory(Callback):
    """Raises the error CUDA raises when memory runs out (CPU machines cannot run out on purpose)."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        import torch

        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (GPU 0; 79.1 GiB total)")


class RecordGradNorms(Callback):
    """After each batch, the 2-norm of the gradients each optimizer just applied (G's and D's); written to
    ``path`` (a JSON list) when training ends (or fails)."""

    def __init__(self, path: str):
        self.path = Path(path)
        self.norms: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        import torch

        for optimizer in trainer.optimizers:
            grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
            if grads:
                self.norms.append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))

    def write(self):
        import json

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.norms))

    def on_train_end(self, trainer, pl_module):
        self.write()

    def on_exception(self, trainer, pl_module, exception):
        self.write()


def recorded_grad_norms(overrides: list[str], output_dir) -> list[float]:
    """Train ``overrides`` into ``output_dir`` with ``RecordGradNorms`` and return the norms it recorded."""
    import json

    from gan_experiments.pipeline import train
    from tests.helpers import compose_train

    record = Path(output_dir) / "grad_norms.json"
    train(compose_train([*overrides, "+callbacks.record._target_=tests.rank_weights.RecordGradNorms",
                         f"+callbacks.record.path={record}"], Path(output_dir)))
    return json.loads(record.read_text())
