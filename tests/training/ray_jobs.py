"""Job functions the Ray backend tests run inside Ray workers (importable there: the tests put this folder on the
workers' PYTHONPATH; it is not a test module)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from emomtl.training.loop import SplitJob
from emomtl.training.ray_backend import train_job


def die_after_first_checkpoint(job: SplitJob, resume: bool, marker: str) -> dict[str, Any]:
    """The first job to start anywhere creates ``marker`` and kills its worker process right after writing its
    first ``checkpoint_last.pt`` (mid-job); every other call, the retry included, trains normally."""
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return train_job(job, resume)
    import emomtl.training.loop as loop

    save = loop.save_checkpoint

    def save_then_die(path: Path, state: dict[str, Any]) -> None:
        save(path, state)
        if Path(path).name == "checkpoint_last.pt":
            os._exit(1)

    loop.save_checkpoint = save_then_die
    return train_job(job, resume)
