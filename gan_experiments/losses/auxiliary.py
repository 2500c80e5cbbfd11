"""AC-GAN's auxiliary classification loss (Odena et al. 2017, eq. 2-3).

The paper's class log-likelihood L_C = E[log P(C = c | X_real)] + E[log P(C = c | X_fake)] is maximized by
both D and G (D also maximizes L_S, G maximizes L_C - L_S). As losses to minimize, with the adversarial
criterion standing for -L_S (D) and L_S's generator side (G), and w the auxiliary weight:

    L_D = adversarial_D + w · (CE(D_cls(x), y) + CE(D_cls(G(z, y)), y))
    L_G = adversarial_G + w · CE(D_cls(G(z, y)), y)

with CE below. The fake term of L_D trains D's classifier on generated images too, as the paper's L_C.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def auxiliary_classification_loss(class_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """CE(l, y) = -1/N sum_i log softmax(l_i)[y_i] = -1/N sum_i (l_{i, y_i} - log sum_k exp l_{i, k}): the
    negative mean log-likelihood of the correct class. class_logits [N, K], labels [N] long in [0, K) -> [],
    in fp32 (or wider) whatever the logits' dtype."""
    if class_logits.ndim != 2 or labels.shape != (class_logits.shape[0],):
        raise ValueError(f"class logits must be [N, K] and labels [N], got {list(class_logits.shape)} and "
                         f"{list(labels.shape)}")
    return F.cross_entropy(class_logits.to(torch.promote_types(class_logits.dtype, torch.float32)), labels)
