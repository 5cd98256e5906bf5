"""Training through Lightning Fabric: on a GPU (one or several, DDP over NCCL) or several CPU processes (gloo).

The same :class:`~emomtl.training.loop.SplitJob` runs on every process: each rank trains on its shard
of every epoch's shuffled rows, gradients are averaged by DDP, rank 0 evaluates and writes files.
Only strategies whose ``ddp_safe`` flag is set are accepted (``emomtl weighting list``).
"""

from __future__ import annotations

import os
from typing import Any

import torch

from emomtl.config import as_recipe
from emomtl.training.precision import check_precision
from emomtl.runtime.record import check_run_folder, run_record
from emomtl.training.loop import SplitJob, run_settings, train_split


def runs_through_fabric(devices: int) -> bool:
    """Whether runs go through :func:`train_split_distributed`: several processes, or any run when CUDA is present
    (Fabric places the model and batches on the GPU; one CPU process trains without Fabric)."""
    return devices > 1 or torch.cuda.is_available()


def _worker(fabric: Any, job: SplitJob, resume: bool) -> dict[str, Any]:
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // fabric.world_size))  # the cores shared by the processes
    return train_split(job, resume=resume, fabric=fabric)


def train_split_distributed(job: SplitJob, devices: int, resume: bool = True,
                            precision: str = "32-true") -> dict[str, Any]:
    """Train one split on ``devices`` processes (GPUs when available, else CPU processes)."""
    from lightning_fabric import Fabric

    from emomtl.weighting.registry import require_ddp_safe

    from emomtl.models.registry import is_classical

    if is_classical(as_recipe(job.recipe).model):  # fitted by scikit-learn in one process: nothing to parallelise
        return train_split(job, resume=resume)
    if devices > 1:  # before any process is spawned (each worker's ``create`` checks again)
        require_ddp_safe(job.weighting.get("name", "static"))
        if resume:  # a folder made with other settings: one clear error here, not a worker's traceback
            check_run_folder(job.out_dir, run_record(as_recipe(job.recipe).to_dict(), job.prepared.table,
                                                     run_settings(job)))
    accelerator = "cuda" if torch.cuda.is_available() else "cpu"
    precision = check_precision(precision, accelerator)  # bf16-mixed runs on CPU too; 16-mixed needs CUDA
    strategy: Any = "auto"
    if devices > 1:
        from lightning_fabric.strategies import DDPStrategy

        # unused parameters are normal here: a batch without labels for a task, exits past a task, masked branches
        strategy = DDPStrategy(start_method="spawn", find_unused_parameters=True)
    fabric = Fabric(accelerator=accelerator, devices=devices, strategy=strategy, precision=precision)
    return fabric.launch(_worker, job, resume)
