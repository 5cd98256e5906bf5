"""Two CPU processes (gloo) under DistributedDataParallel: ``ddp_safe`` strategies keep the ranks identical."""

from __future__ import annotations

import json
import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from emomtl.weighting import STRATEGIES, create as create_strategy
from weighting_toys import TASKS, ToyModel, make_batches


def create(name, task_names, **params):
    """The toy model passes shared parameters, not a representation: MGDA differentiates w.r.t. the parameters."""
    if name == "mgda":
        params.setdefault("gradients", "parameters")
    return create_strategy(name, task_names, **params)

WORLD = 2
STEPS = 4


def _drop(rank: int, step: int) -> tuple[str, ...]:
    """Ranks miss different tasks on different steps, as pooled corpora do."""
    return {(0, 1): ("gender",), (1, 2): ("arousal", "emotion")}.get((rank, step), ())


def _run(rank: int, name: str, sync: bool) -> torch.Tensor:
    model = ToyModel(seed=0)
    ddp = DistributedDataParallel(model, find_unused_parameters=True)
    strategy = create(name, TASKS, **({"period": "step"} if name == "dwa" else {}))
    optimiser = torch.optim.Adam([*model.parameters(), *strategy.parameters()], lr=0.05)
    for step, batch in enumerate(make_batches(STEPS, seed=100 + rank)):  # different data on each rank
        optimiser.zero_grad(set_to_none=True)
        outputs = ddp(batch["x"])
        losses = {
            t: (outputs[t] - batch["targets"][t]).pow(2).mean() for t in TASKS if t not in _drop(rank, step)
        }
        shared = list(model.shared_parameters())
        out = strategy(losses, shared_parameters=shared)
        out.loss.backward()
        if out.shared_gradients is not None:
            for p, g in zip(shared, out.shared_gradients):
                p.grad = g
        if sync:
            strategy.all_reduce_grads()
        optimiser.step()
        if step % 2 == 1:
            strategy.end_epoch({t: float(v.detach()) for t, v in losses.items()})
    state = [*model.state_dict().values(), *strategy.state_dict().values()]
    return torch.cat([t.double().reshape(-1) for t in state if isinstance(t, torch.Tensor) and t.is_floating_point()])


def _worker(rank: int, port: int, cases: list[tuple[str, bool]], out_path: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    identical = {}
    try:
        for name, sync in cases:
            flat = _run(rank, name, sync)
            gathered = [torch.zeros_like(flat) for _ in range(WORLD)]
            dist.all_gather(gathered, flat)
            identical[f"{name}:{sync}"] = bool(torch.allclose(gathered[0], gathered[1], atol=1e-6, equal_nan=True))
        dist.barrier()  # neither rank tears gloo down while the other still talks to it (a rare SIGABRT at exit)
    finally:
        dist.destroy_process_group()
    if rank == 0:
        with open(out_path, "w") as handle:
            json.dump(identical, handle)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_safe_strategies_keep_model_and_state_identical_across_ranks(tmp_path):
    """One spawn for every strategy (so ``pytest -n`` runs it once); ``uw`` without all_reduce_grads is the
    control showing the check can fail and that the loop must call ``all_reduce_grads``."""
    cases = [(name, True) for name in STRATEGIES] + [("uw", False)]
    out_path = str(tmp_path / "identical.json")
    mp.spawn(_worker, args=(_free_port(), cases, out_path), nprocs=WORLD, join=True)
    with open(out_path) as handle:
        identical = json.load(handle)
    diverged = [name for name, cls in STRATEGIES.items() if cls.ddp_safe and not identical[f"{name}:True"]]
    assert diverged == [], f"these strategies claim ddp_safe but the ranks diverged: {diverged}"
    assert not identical["uw:False"], "without all_reduce_grads the learned log-variances must diverge"
