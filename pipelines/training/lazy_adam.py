"""Adam for models whose embedding gives sparse gradients (the fastText-style model with
``model.fasttext.sparse``): dense parameters get Adam's arithmetic exactly; a sparse gradient moves only the rows
the batch used, with their first and second moments ("lazy" Adam, as TensorFlow's LazyAdam and torch's
SparseAdam). A dense Adam step over fastText's table (200k bigram buckets x 300 dims on the demo) rewrites every
row and both moments each step: 32 s an epoch against 0.5 s lazily, for the same accuracy
(``benchmarks/model_epochs.py``).

torch 2.13 has no single optimizer for both kinds: ``Adam`` refuses sparse gradients, ``SparseAdam`` refuses dense
ones and weight decay. ``nn.utils.clip_grad_norm_`` refuses sparse gradients too; :func:`clip_gradient_norm` is
its equal for a mix of both."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn


def has_sparse_gradients(model: nn.Module) -> bool:
    return any(isinstance(module, nn.Embedding | nn.EmbeddingBag) and module.sparse for module in model.modules())


class LazyAdam(torch.optim.Optimizer):
    """Adam (Kingma & Ba 2015) with L2 weight decay as ``torch.optim.Adam`` adds it to the gradient; for a sparse
    gradient, decay and moments apply to the batch's rows only, so a row's moments age only when it is used."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for parameter in group["params"]:
                if parameter.grad is not None:
                    self._update(parameter, group)
        return loss

    def _update(self, parameter: torch.Tensor, group: dict) -> None:
        state = self.state[parameter]
        if not state:
            # "step" as a float tensor: torch's Optimizer.load_state_dict keeps a key of that name as saved, so a
            # checkpoint resumes as torch's own Adam does
            state["step"] = torch.tensor(0.0)
            state["exp_avg"] = torch.zeros_like(parameter, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(parameter, memory_format=torch.preserve_format)
        state["step"] += 1
        beta1, beta2 = group["betas"]
        step = state["step"].item()
        step_size = group["lr"] / (1 - beta1**step)
        correction2_sqrt = math.sqrt(1 - beta2**step)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        gradient = parameter.grad
        if not gradient.is_sparse:
            if group["weight_decay"]:
                gradient = gradient.add(parameter, alpha=group["weight_decay"])
            exp_avg.lerp_(gradient, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(gradient, gradient, value=1 - beta2)
            denominator = (exp_avg_sq.sqrt() / correction2_sqrt).add_(group["eps"])
            parameter.addcdiv_(exp_avg, denominator, value=-step_size)
            return
        gradient = gradient.coalesce()
        rows, values = gradient.indices()[0], gradient.values()
        if group["weight_decay"]:
            values = values.add(parameter[rows], alpha=group["weight_decay"])
        first = exp_avg[rows].lerp_(values, 1 - beta1)
        second = exp_avg_sq[rows].mul_(beta2).addcmul_(values, values, value=1 - beta2)
        exp_avg[rows], exp_avg_sq[rows] = first, second
        denominator = (second.sqrt() / correction2_sqrt).add_(group["eps"])
        parameter.index_add_(0, rows, first / denominator, alpha=-step_size)


def clip_gradient_norm(parameters: Iterable[torch.Tensor], max_norm: float) -> torch.Tensor:
    """``nn.utils.clip_grad_norm_`` (L2, the same 1e-6 guard) where some gradients may be sparse: a sparse
    gradient is coalesced first, so a row a batch used twice counts once, summed, as it does densely."""
    with_gradient = [parameter for parameter in parameters if parameter.grad is not None]
    for parameter in with_gradient:
        if parameter.grad.is_sparse:
            parameter.grad = parameter.grad.coalesce()
    norms = [(p.grad.values() if p.grad.is_sparse else p.grad).norm(2) for p in with_gradient]
    if not norms:
        return torch.tensor(0.0)
    total = torch.linalg.vector_norm(torch.stack(norms), 2)
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for parameter in with_gradient:
        if parameter.grad.is_sparse:
            parameter.grad = parameter.grad * scale
        else:
            parameter.grad.mul_(scale)
    return total
