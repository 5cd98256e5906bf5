"""``python killable_train.py POINT MARKER emomtl-args...``: run the ``emomtl`` command, freezing at POINT.

At the chosen point the process writes MARKER and sleeps, so a test can kill it with SIGKILL at a known place:

* ``step:N`` - before the N-th training step (1-based, counted over the whole run): mid-epoch, after earlier
  steps of the epoch have already changed the weights in memory and appended to ``steps.csv``;
* ``save:N`` - inside the N-th write of ``checkpoint_last.pt``, after half of the bytes reached the temporary
  file and before the rename: the kill leaves a torn temporary file next to the previous checkpoint.

Nothing else changes: the same command without this wrapper gives the uninterrupted run.
"""

from __future__ import annotations

import io
import os
import sys
import time
from pathlib import Path


def freeze(marker: Path) -> None:
    marker.write_text(str(os.getpid()))
    while True:  # until SIGKILL
        time.sleep(60)


def pause_at_step(count: int, marker: Path) -> None:
    import emomtl.training.loop as loop

    real = loop.make_targets
    calls = {"n": 0}

    def make_targets(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == count:
            freeze(marker)
        return real(*args, **kwargs)

    loop.make_targets = make_targets


def pause_in_save(count: int, marker: Path) -> None:
    import torch

    real = torch.save
    calls = {"n": 0}

    def save(obj, f, *args, **kwargs):
        if isinstance(f, (str, os.PathLike)) and Path(f).name.startswith(".checkpoint_last.pt"):
            calls["n"] += 1
            if calls["n"] == count:
                buffer = io.BytesIO()
                real(obj, buffer, *args, **kwargs)
                data = buffer.getvalue()
                with open(f, "wb") as handle:
                    handle.write(data[: len(data) // 2])
                    handle.flush()
                    os.fsync(handle.fileno())
                freeze(marker)
        return real(obj, f, *args, **kwargs)

    torch.save = save


def main() -> int:
    point, marker, *args = sys.argv[1:]
    kind, count = point.split(":")
    {"step": pause_at_step, "save": pause_in_save}[kind](int(count), Path(marker))
    from emomtl.cli.main import main as emomtl_main

    return emomtl_main(args)


if __name__ == "__main__":
    sys.exit(main())
