"""A test callback that saves each rank's final weights, to compare ranks after distributed training."""

from pathlib import Path

import torch
from lightning import Callback


class SaveRankWeights(Callback):
    def __init__(self, dirpath: str):
        self.dirpath = Path(dirpath)

    def on_train_end(self, trainer, pl_module):
        state = {k: v.detach().cpu().clone() for k, v in pl_module.state_dict().items()}
        torch.save(state, self.dirpath / f"rank{trainer.global_rank}.pt")
