"""What a run folder was made from: its settings, its data and its software (``run.json``, ``provenance.json``).

``run.json`` holds every result-changing setting of the effective recipe (flattened to dotted keys), a digest
of the data (the corpus table and the path, size and content digest of every file it uses) and the
emomtl version. A rerun into the folder with the same settings and data reuses its finished results; with
other ones it is refused, naming the keys that changed, unless the caller starts over (``--no-resume`` /
``--fresh``). ``provenance.json`` adds the command line, package versions, git commit, times and devices.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

from emomtl import __version__
from emomtl.errors import RunFolderError
from emomtl.runtime.files import write_json

log = logging.getLogger(__name__)

RECORD_NAME = "run.json"
PROVENANCE_NAME = "provenance.json"
#: The runs a ``cv`` / ``compare`` folder plans (a report over fewer finished ones says it is incomplete).
PLAN_NAME = "plan.json"
#: What runs, experiments, reports and ``export`` (its default ``onnx/``) write into a run folder: a fresh start
#: removes all of it, so nothing made with the old settings outlives the new ``run.json``.
RUN_OUTPUTS = ("metrics.json", "predictions.csv", "history.csv", "steps.csv", "checkpoint_*.pt", "refit", "tensorboard",
               "results.csv", "skipped.csv", "runs", "report.md", "report.html", "report_figures", "onnx", PLAN_NAME)
#: Settings that never change a result: names, where files go, logging and worker counts.
NOT_RESULTS = ("name", "description", "method", "reference", "tuned_on", "output", "data.cache_dir",
               "train.num_workers", "train.tensorboard", "train.backend", "train.cpus_per_job", "train.gpus_per_job")
# (where a run trains, like --jobs, changes its numbers only through the CPU thread count: float rounding)
#: Settings that choose which runs a folder holds, not what any run gives (adding a seed or an arm extends it).
SELECTION = ("train.seeds", "train.max_folds", "compare.weightings", "compare.single_task", "compare.models")
#: Packages whose versions ``provenance.json`` lists.
PACKAGES = ("emomtl", "torch", "numpy", "pandas", "scikit-learn", "opensmile", "transformers", "onnxruntime")


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}, "l": [x]}`` -> ``{"a.b": 1, "l.0": x}`` (JSON-normalised leaves)."""
    if isinstance(value, dict):
        if not value and prefix:
            return {prefix: {}}
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, (list, tuple)) and any(isinstance(v, (dict, list, tuple)) for v in value):
        out = {}
        for index, item in enumerate(value):
            out.update(flatten(item, f"{prefix}.{index}"))
        return out
    return {prefix: json.loads(json.dumps(value, default=str))}


def result_settings(recipe: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The flattened settings that can change a result (``extra``: a run's seed, arm weighting, tasks)."""
    flat = {k: v for k, v in flatten({**recipe, **(extra or {})}).items() if not ignored_setting(k)}
    return dict(sorted(flat.items()))


def ignored_setting(key: str) -> bool:
    """Whether a flattened setting is left out of a run's record (``NOT_RESULTS``, ``SELECTION``)."""
    return any(key == name or key.startswith(f"{name}.") for name in NOT_RESULTS + SELECTION)


#: Content digests already computed in this process, keyed by (path, size, modification time).
_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(path: str, stat: os.stat_result) -> str:
    """BLAKE2b digest of a file's bytes, computed once per process for an unchanged (path, size, mtime).

    Content, not the modification time, decides: a corpus copied or restored elsewhere on the same paths
    keeps its run folders valid, and an edit that keeps the size is still caught (by a new process, too, when
    it also keeps the time).
    """
    key = (path, stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        digest = hashlib.blake2b(digest_size=16)
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _DIGESTS[key] = digest.hexdigest()
    return _DIGESTS[key]


def data_manifest(table: pd.DataFrame) -> dict[str, Any]:
    """Digest of the corpus table and of the path, size and content of every file it names."""
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(table.reset_index(drop=True).astype(str), index=False).values.tobytes())
    paths = sorted({str(p).split("#", 1)[0] for column in ("path", "video") if column in table
                    for p in table[column].dropna()})
    missing = 0
    for path in paths:
        try:
            stat = os.stat(path)
            digest.update(f"{path}\0{stat.st_size}\0{file_digest(path, stat)}\n".encode())
        except OSError:
            missing += 1
            digest.update(f"{path}\0missing\n".encode())
    return {"rows": int(len(table)), "files": len(paths), "missing": missing, "sha256": digest.hexdigest()}


def run_record(recipe: dict[str, Any], table: pd.DataFrame, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    settings = result_settings(recipe, extra)
    manifest = data_manifest(table)
    fingerprint = hashlib.sha256(json.dumps([settings, manifest["sha256"]], sort_keys=True).encode()).hexdigest()
    return {"fingerprint": fingerprint[:16], "emomtl": __version__, "data": manifest, "settings": settings}


def changed_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return sorted(key for key in set(old) | set(new) if old.get(key, "<unset>") != new.get(key, "<unset>"))


def _describe(keys: list[str], old: dict[str, Any], new: dict[str, Any], shown: int = 6) -> str:
    parts = [f"{k} ({old.get(k, '<unset>')!r} -> {new.get(k, '<unset>')!r})" for k in keys[:shown]]
    return ", ".join(parts) + (f" and {len(keys) - shown} more" if len(keys) > shown else "")


def claim_run_folder(folder: Path, record: dict[str, Any], fresh: bool) -> None:
    """Check ``folder``'s ``run.json`` against ``record`` and write it.

    Same fingerprint: the folder's finished results stay valid. Other settings or data: :class:`RunFolderError`
    naming the changed keys, unless ``fresh``: the folder starts over, its outputs (``RUN_OUTPUTS``) removed.
    """
    if fresh:
        clear_run_outputs(Path(folder))
    else:
        check_run_folder(folder, record)
    write_json(Path(folder) / RECORD_NAME, record)


def check_run_folder(folder: Path, record: dict[str, Any]) -> None:
    """:class:`RunFolderError` naming the changed keys when ``folder``'s ``run.json`` was made with other settings
    or data than ``record``; writes nothing (e.g. checked before worker processes are spawned)."""
    path = Path(folder) / RECORD_NAME
    if path.exists():
        try:
            old = json.loads(path.read_text())
        except ValueError:
            old = None
        if old is None:
            log.warning("%s is unreadable; it is rewritten", path)
        elif old.get("fingerprint") != record["fingerprint"]:
            # a record of an older emomtl may list settings that no longer count: they are not a change
            old_settings = {k: v for k, v in old.get("settings", {}).items() if not ignored_setting(k)}
            keys = changed_keys(old_settings, record["settings"])
            if not keys and old.get("data", {}).get("sha256") == record["data"]["sha256"]:
                log.info("%s: record of an older emomtl, same settings and data; it is rewritten", path)
                return
            if keys:
                what = f"settings changed: {_describe(keys, old_settings, record['settings'])}"
            else:
                what = (f"data changed (corpus table or files: {old.get('data', {}).get('files')} -> "
                        f"{record['data']['files']} files, or their contents)")
            raise RunFolderError(f"{folder}: holds results made with other settings or data; {what}. Rerun with "
                                 "--fresh (or --no-resume) to start this folder over, or choose another --out")
        elif old.get("emomtl") != record["emomtl"]:
            log.warning("%s: made by emomtl %s, now %s; finished results are reused", folder, old.get("emomtl"),
                        record["emomtl"])


def clear_run_outputs(folder: Path) -> None:
    """Remove what emomtl wrote into ``folder`` (``RUN_OUTPUTS``); anything else stays."""
    for pattern in RUN_OUTPUTS:
        for entry in folder.glob(pattern):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink(missing_ok=True)


# ------------------------------------------------------------------ provenance
def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = __version__ if name == "emomtl" else None
    return versions


def git_commit() -> str | None:
    """The commit of the checkout emomtl runs from (``None`` when installed from a wheel)."""
    source = Path(__file__).resolve().parents[3]
    if not (source / ".git").exists():
        return None
    try:
        done = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=5, check=True)
        dirty = subprocess.run(["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() + ("-dirty" if dirty else "")


def devices() -> dict[str, Any]:
    import torch

    gpus = ([torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            if torch.cuda.is_available() else [])
    return {"cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "gpus": gpus, "platform": platform.platform()}


class Provenance:
    """``provenance.json`` of a run folder: written when the work starts, completed when it ends."""

    def __init__(self, folder: Path, recipe: dict[str, Any], command: str) -> None:
        self.path = Path(folder) / PROVENANCE_NAME
        self.content: dict[str, Any] = {
            "command": command, "argv": list(sys.argv), "cwd": os.getcwd(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "finished": None, "status": "running",
            "versions": package_versions(), "git_commit": git_commit(), "devices": devices(), "recipe": recipe}

    def __enter__(self) -> "Provenance":
        write_json(self.path, self.content)
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        self.content.update(finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                            status="finished" if kind is None else f"failed ({kind.__name__})")
        try:
            write_json(self.path, self.content)
        except Exception:  # never hide the original error behind a provenance write
            if kind is None:
                raise
