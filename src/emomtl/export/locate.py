"""Find the checkpoint a command means: a ``.pt`` file, a run folder, or one run of a cv / compare folder."""

from __future__ import annotations

from pathlib import Path

from emomtl.errors import ConfigError

CHECKPOINT = "checkpoint_best.pt"


def find_checkpoint(path: str | Path, run: str | None = None, setting: str = "checkpoint") -> Path:
    """The checkpoint file ``path`` names.

    ``path`` is a checkpoint file, a run folder holding ``checkpoint_best.pt``, or a cv / compare folder
    (``runs/<strategy>/fold<k>_seed<s>/``), where ``run`` (``<strategy>/fold<k>_seed<s>``) picks one run; a folder
    with exactly one run needs no ``run``.
    """
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise ConfigError(f"{setting}: {path} is neither a checkpoint file nor a folder")
    if run is not None:
        chosen = path / "runs" / run / CHECKPOINT
        if not chosen.is_file():
            raise ConfigError(f"{setting} --run: {chosen} does not exist "
                              f"(runs: {', '.join(list_runs(path)) or 'none'})")
        return chosen
    if (path / CHECKPOINT).is_file():
        return path / CHECKPOINT
    runs = list_runs(path)
    if len(runs) == 1:
        return path / "runs" / runs[0] / CHECKPOINT
    if not runs:
        raise ConfigError(f"{setting}: {path} holds no {CHECKPOINT} (neither directly nor under runs/*/*/)")
    raise ConfigError(f"{setting}: {path} holds {len(runs)} runs; pick one with --run, one of: {', '.join(runs)}")


def list_runs(folder: Path) -> list[str]:
    """``<strategy>/fold<k>_seed<s>`` of every run of a cv / compare folder that has a best checkpoint."""
    return sorted(str(p.parent.relative_to(folder / "runs")) for p in folder.glob(f"runs/*/*/{CHECKPOINT}"))
