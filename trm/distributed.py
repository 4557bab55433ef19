"""Data parallelism the way the official trainer does it: no DDP wrapper, explicit collectives.

Under torchrun (env RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/MASTER_PORT) every process trains on
its slice of the global batch: per-rank batch = global / world. Parameters and buffers are
broadcast from rank 0 at start; gradients are all-reduced with SUM because every rank already
divided its loss by the GLOBAL batch size, so the sum is the global mean; sign-SGD all-gathers the
puzzle-embedding rows itself (trm.optim). Only rank 0 writes files. Without torchrun everything
here is a no-op on one process.

A collective waits for every rank at most the group's timeout (torch's default: 10 minutes), then
fails the run. The trainer prepares its data before it joins the group, so no rank waits in a
collective for another's dataset build; the timeout is still the machine's business (a slow
shared disk, a 4 GB checkpoint written by rank 0 while the others wait for the next all-reduce),
so it is set per launch (`setup(timeout_s=...)` or the environment variable below), not in the
TrainConfig: changing it changes no result, so it must not make a record stale or refuse a resume.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Optional

import torch
import torch.distributed as dist
from torch import nn

TIMEOUT_ENV = "TRM_COLLECTIVE_TIMEOUT_S"
"""Environment variable: seconds a collective may wait for the other ranks (default: torch's)."""


@dataclass(frozen=True)
class Context:
    """This process's place in the run."""

    rank: int
    world_size: int
    device: torch.device
    owns_group: bool
    """whether `setup` created the process group (and `teardown` should destroy it)"""

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device: str = "cpu", timeout_s: Optional[float] = None) -> Context:
    """Join the process group described by torchrun's environment (or one set up by the caller).

    Backend: gloo for CPU, nccl for CUDA. On CUDA each process uses `cuda:LOCAL_RANK`. timeout_s:
    how long a collective (and the group's rendezvous) waits for the other ranks before it fails;
    None: $TRM_COLLECTIVE_TIMEOUT_S, else torch's default. A group set up by the caller keeps its own.
    """
    requested = torch.device(device)
    if dist.is_available() and dist.is_initialized():
        owns = False
    elif int(os.environ.get("WORLD_SIZE", "1")) > 1:
        backend = "nccl" if requested.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, timeout=collective_timeout(timeout_s))
        owns = True
    else:
        return Context(rank=0, world_size=1, device=requested, owns_group=False)
    if requested.type == "cuda" and requested.index is None:
        requested = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    if requested.type == "cuda":
        torch.cuda.set_device(requested)
    return Context(rank=dist.get_rank(), world_size=dist.get_world_size(), device=requested, owns_group=owns)


def collective_timeout(timeout_s: Optional[float] = None) -> Optional[timedelta]:
    """`timeout_s` (else $TRM_COLLECTIVE_TIMEOUT_S) as a timedelta; None (torch's default) when neither is set."""
    if timeout_s is None and os.environ.get(TIMEOUT_ENV):
        try:
            timeout_s = float(os.environ[TIMEOUT_ENV])
        except ValueError:
            raise ValueError(f"{TIMEOUT_ENV} must be a number of seconds, got {os.environ[TIMEOUT_ENV]!r}") from None
    if timeout_s is None:
        return None
    if not timeout_s > 0:
        raise ValueError(f"the collective timeout must be a positive number of seconds, got {timeout_s}")
    return timedelta(seconds=timeout_s)


def teardown(ctx: Context, *, synchronise: bool = False) -> None:
    """Leave the process group. After a normal end, `synchronise` first waits for every rank: a rank
    that destroys its gloo group while another still uses it makes the other abort ("terminate
    called without an active exception", SIGABRT), which failed a 2-process run now and then."""
    if ctx.owns_group and dist.is_initialized():
        if synchronise:
            dist.barrier()
        dist.destroy_process_group()


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


@torch.no_grad()
def broadcast_module(model: nn.Module) -> None:
    """Make every rank's parameters and buffers equal to rank 0's."""
    if not active():
        return
    for tensor in list(model.parameters()) + list(model.buffers()):
        dist.broadcast(tensor.data, src=0)


@torch.no_grad()
def all_reduce_gradients(model: nn.Module) -> None:
    """Sum every parameter's gradient over the ranks (the loss was divided by the global batch)."""
    if not active():
        return
    for p in model.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)


def sum_over_ranks(tensor: torch.Tensor) -> torch.Tensor:
    """The element-wise sum of `tensor` over the ranks (in place; returned for convenience)."""
    if active():
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def gather_rows(tensor: torch.Tensor) -> torch.Tensor:
    """Every rank's same-shaped `tensor` concatenated along dim 0, in rank order."""
    if not active():
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts)


def gather_objects(obj) -> list:
    """Every rank's picklable `obj`, in rank order (tensors should be on the CPU)."""
    if not active():
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    if active():
        dist.barrier()
