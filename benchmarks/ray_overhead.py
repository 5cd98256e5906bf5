"""Overhead per job of the Ray backend against the local backends, on the tiny demo recipe (issue #22).

    python benchmarks/ray_overhead.py [--epochs 2] [--cpus 2] [--out benchmarks/results]

One tiny ``compare`` (generated demo corpus: 4 speakers, LOSO -> 4 folds; arms ``static`` and ``uw``; a 2-block
CNN on 16 log-mel bands) runs, from empty run folders, on each backend:

* ``local, 1 process``: every job in the driver, one after another (``--jobs 1``);
* ``local, N processes``: ``--jobs N`` spawned worker processes (``ProcessPoolExecutor``);
* ``ray, N CPUs``: a local Ray instance with N CPUs, one CPU per job (``--backend ray``);
* ``ray, N CPUs, warm workers``: the same experiment again in fresh run folders on the same Ray instance, whose
  worker processes have imported torch and emomtl already (what every experiment after the first one on a running
  cluster sees): the per-task cost without the workers' start.

Features are extracted once, before any backend runs (``prepare`` row), and every backend gets that prepared
corpus, as ``run_experiment`` does: the Ray backend puts it into the object store once (``ray.put`` row: time and
pickled size), so no job extracts features. Columns: ``wall s`` is the experiment's wall time (Ray: without
``ray.init``, given apart as ``startup s``); ``job s`` the mean training time of one job (``wall_time_s`` of
``metrics.json``); ``overhead / job s`` = (wall - sum of job times / slots) / jobs: the time a job costs beyond its
own training when the slots are kept busy (process start, imports, shipping the corpus, scheduling). Writes
``ray_overhead.{csv,json,md}`` to ``--out``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import pickle  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pandas as pd  # noqa: E402

HERE = Path(__file__).resolve().parent
WEIGHTINGS = ["static", "uw"]


def tiny_demo_recipe(root: Path, epochs: int) -> dict[str, Any]:
    """The engine tests' tiny recipe (tests/training/engine_fixtures.py) on a generated demo corpus."""
    from emomtl.config import resolve_recipe

    return resolve_recipe({
        "name": "tiny",
        "data": {"corpus": "demo", "root": str(root / "corpus"), "cache_dir": str(root / "cache"),
                 "options": {"speakers": 4, "utterances_per_emotion": 2, "video": False, "seconds": [0.6, 0.9]}},
        "features": {"logmel": {"kind": "logmel", "n_mels": 16, "n_fft": 256, "hop_length": 160}},
        "inputs": {"logmel": {"length": 40, "train_crop": "random", "eval_crop": "windows", "standardize": True}},
        "tasks": [{"name": "emotion", "kind": "classification", "column": "emotion"},
                  {"name": "gender", "kind": "classification", "column": "gender", "exit_block": 1}],
        "model": {"name": "multi_exit_cnn", "channels": [4, 8], "dropout": 0.1},
        "weighting": {"name": "uw"},
        "optim": {"name": "adam", "lr": 0.01},
        "train": {"epochs": epochs, "batch_size": 8, "seeds": [0], "tensorboard": False, "log_every": 1,
                  "cpus_per_job": 1},
        "protocol": {"name": "loso", "validation_speakers": 1, "seed": 0},
    })


def measure(label: str, slots: int, run: Any, startup: float = 0.0) -> dict[str, Any]:
    start = time.perf_counter()
    results = run()
    wall = time.perf_counter() - start
    jobs = len(results)
    job_times = results["wall_time_s"].astype(float)
    return {"backend": label, "slots": slots, "jobs": jobs, "startup s": round(startup, 2), "wall s": round(wall, 2),
            "job s": round(float(job_times.mean()), 2),
            "overhead / job s": round((wall - float(job_times.sum()) / slots) / jobs, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--cpus", type=int, default=2, help="worker processes / Ray CPUs (default 2)")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()

    import ray

    from emomtl.training.experiment import run_experiment
    from emomtl.training.prepare import prepare_corpus
    from emomtl.training.ray_backend import RayBackend

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        recipe = tiny_demo_recipe(root, args.epochs)
        start = time.perf_counter()
        prepared = prepare_corpus(recipe, progress=False)
        prepare_s = time.perf_counter() - start

        def experiment(name: str, **options: Any) -> pd.DataFrame:
            return run_experiment(recipe, root / name, weightings=WEIGHTINGS, prepared=prepared, **options)

        rows = [measure("local, 1 process", 1, lambda: experiment("local1")),
                measure(f"local, {args.cpus} processes", args.cpus, lambda: experiment("localN", jobs=args.cpus))]
        start = time.perf_counter()
        ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
        startup = time.perf_counter() - start
        try:
            start = time.perf_counter()
            reference = ray.put(prepared)
            put_s = time.perf_counter() - start
            del reference
            rows.append(measure(f"ray, {args.cpus} CPUs", args.cpus,
                                lambda: experiment("ray", backend=RayBackend(cpus_per_job=1)), startup))
            rows.append(measure(f"ray, {args.cpus} CPUs, warm workers", args.cpus,
                                lambda: experiment("ray-again", backend=RayBackend(cpus_per_job=1))))
        finally:
            ray.shutdown()
    corpus_mb = len(pickle.dumps(prepared, protocol=5)) / 2**20
    table = pd.DataFrame(rows)
    notes = ("Measured once on a shared 2-core machine (other jobs running): compare rows of one run, not runs. "
             f"prepare (extract features once): {prepare_s:.2f} s for {len(prepared.table)} files; "
             f"ray.put of the prepared corpus: {put_s * 1000:.1f} ms, {corpus_mb:.2f} MB pickled")
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Ray {ray.__version__}"

    from _common import markdown_table

    markdown = "\n\n".join([f"# Ray backend overhead per job ({machine})", markdown_table(table), notes])
    print(markdown)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "ray_overhead.csv", index=False)
    (args.out / "ray_overhead.json").write_text(json.dumps(
        {"rows": rows, "prepare_s": prepare_s, "ray_put_s": put_s, "corpus_mb": corpus_mb, "machine": machine,
         "epochs": args.epochs}, indent=2))
    (args.out / "ray_overhead.md").write_text(markdown + "\n")


if __name__ == "__main__":
    main()
