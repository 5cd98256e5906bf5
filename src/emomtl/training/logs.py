"""Per-step and per-epoch logs of one run: CSV files, optional TensorBoard, optional live progress bar."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd

from emomtl.runtime.files import write_csv


class RunLogger:
    """Writes ``steps.csv`` (appended) and ``history.csv`` (rewritten each epoch) in a run folder."""

    def __init__(self, out_dir: Path, enabled: bool = True, tensorboard: bool = False, progress: bool = False,
                 total_epochs: int = 0, label: str = "", resumed_epochs: int = 0, truncate: bool = False,
                 history: list[dict[str, Any]] | None = None) -> None:
        self.out_dir, self.enabled, self.label = Path(out_dir), enabled, label
        self.history: list[dict[str, Any]] = history if history is not None else []
        self.steps_path = self.out_dir / "steps.csv"
        self._writer = None
        self._progress = None
        if not enabled:
            return
        if self.steps_path.exists():
            if truncate or resumed_epochs == 0:
                self.steps_path.unlink()
            else:  # drop the steps of the epoch that was interrupted; it is replayed
                steps = pd.read_csv(self.steps_path)
                write_csv(self.steps_path, steps[steps["epoch"] < resumed_epochs], index=False)
        self._step_columns: list[str] = (pd.read_csv(self.steps_path, nrows=0).columns.tolist()
                                         if self.steps_path.exists() else [])
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.out_dir / "tensorboard"))
        if progress and sys.stderr.isatty():
            from rich.progress import Progress

            self._progress = Progress(transient=True)
            self._task = self._progress.add_task(label or "training", total=total_epochs, completed=resumed_epochs)

    def __enter__(self) -> "RunLogger":
        if self._progress:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress:
            self._progress.stop()
        if self._writer:
            self._writer.close()

    def step(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        frame = pd.DataFrame([row])
        columns = self._step_columns
        frame = frame.reindex(columns=columns + [c for c in frame.columns if c not in columns])
        if columns and list(frame.columns) != columns:  # a new column (a task first seen): rewrite, wider header
            write_csv(self.steps_path, pd.concat([pd.read_csv(self.steps_path), frame]), index=False)
        else:
            frame.to_csv(self.steps_path, mode="a", header=not columns, index=False)
        self._step_columns = list(frame.columns)
        if self._writer:
            for key, value in row.items():
                if key not in ("step", "epoch") and isinstance(value, (int, float)):
                    self._writer.add_scalar(f"step/{key}", value, row["step"])

    def epoch(self, row: dict[str, Any]) -> None:
        """Rewrite ``history.csv`` from the run's history (the caller has appended ``row`` to it)."""
        if not self.enabled:
            return
        write_csv(self.out_dir / "history.csv", pd.DataFrame(self.history), index=False)
        if self._writer:
            for key, value in row.items():
                if key != "epoch" and isinstance(value, (int, float)):
                    self._writer.add_scalar(f"epoch/{key}", value, row["epoch"])
        if self._progress:
            weights = " ".join(f"{k[7:]}={v:.2f}" for k, v in row.items() if k.startswith("weight."))
            losses = " ".join(f"{k[6:-5]}={v:.3f}" for k, v in row.items()
                              if k.startswith("train.") and k.endswith(".loss"))
            score = f" val.score={row['val.score']:.3f}" if "val.score" in row else ""
            self._progress.update(self._task, advance=1, description=f"{self.label} {losses} | {weights}{score}")
