"""The Ray backend (issue #22): same results as the local backend, retries of dead workers, resumable, resource checks.

Runs on a local Ray instance with 2 CPUs, shared by the module's tests; skipped when Ray is not installed.
"""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (optional extra): pip install 'emomtl[ray]'")

import emomtl  # noqa: E402
from emomtl.errors import ConfigError  # noqa: E402
from emomtl.training.experiment import run_experiment  # noqa: E402
from emomtl.training.ray_backend import RayBackend, check_resources, job_resources  # noqa: E402

from engine_fixtures import tiny_recipe  # noqa: E402
from ray_jobs import die_after_first_checkpoint  # noqa: E402

HERE = Path(__file__).resolve().parent
WEIGHTINGS = ["static", "uw"]


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray instance with 2 CPUs whose workers import emomtl and ``ray_jobs`` like this process does."""
    paths = [str(HERE), str(Path(emomtl.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in paths if p)}})
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ray")


@pytest.fixture(scope="module")
def recipe(workspace):
    return tiny_recipe(workspace, train={"epochs": 2, "max_folds": 2, "cpus_per_job": 1})


@pytest.fixture(scope="module")
def local_results(recipe, workspace) -> pd.DataFrame:
    return run_experiment(recipe, workspace / "local", weightings=WEIGHTINGS)


def _metrics(results: pd.DataFrame) -> pd.DataFrame:
    """Per-fold results without the timing column, in plan order."""
    return results.drop(columns=["wall_time_s"]).sort_values(["strategy", "fold", "seed"]).reset_index(drop=True)


def test_ray_backend_gives_the_per_fold_metrics_of_the_local_backend(local_ray, recipe, workspace, local_results):
    results = run_experiment(recipe, workspace / "ray", weightings=WEIGHTINGS, backend="ray")
    assert len(results) == 4
    pd.testing.assert_frame_equal(_metrics(results), _metrics(local_results), check_exact=False, atol=1e-6)
    on_disk = pd.read_csv(workspace / "ray" / "results.csv")
    assert len(on_disk) == 4 and set(on_disk["strategy"]) == set(WEIGHTINGS)


def test_a_dead_worker_is_retried_and_resumes_to_the_undisturbed_result(local_ray, recipe, workspace, local_results):
    marker = workspace / "killed-once"
    backend = RayBackend(cpus_per_job=1, job_function=functools.partial(die_after_first_checkpoint, marker=str(marker)))
    results = run_experiment(recipe, workspace / "killed", weightings=WEIGHTINGS, backend=backend)
    assert marker.exists()
    assert sorted(backend.attempts.values()) == [1, 1, 1, 2]  # the killed job ran twice, no other job did
    pd.testing.assert_frame_equal(_metrics(results), _metrics(local_results), check_exact=False, atol=1e-6)
    for history in (workspace / "killed" / "runs").glob("*/*/history.csv"):
        epochs = pd.read_csv(history)["epoch"].tolist()
        assert epochs == sorted(set(epochs)) and len(epochs) == 2  # resumed after epoch 1, not restarted


def test_rerun_submits_only_the_unfinished_job(local_ray, recipe, workspace, local_results):
    run_dir = workspace / "rerun"
    shutil.copytree(workspace / "local", run_dir)
    next((run_dir / "runs" / "uw").glob("*/metrics.json")).unlink()  # as if the driver was killed during this job
    backend = RayBackend(cpus_per_job=1)
    results = run_experiment(recipe, run_dir, weightings=WEIGHTINGS, backend=backend)
    assert list(backend.attempts.values()) == [1]  # only the unfinished job was submitted
    pd.testing.assert_frame_equal(_metrics(results), _metrics(local_results), check_exact=False, atol=1e-6)


def test_gpus_the_cluster_lacks_are_refused_before_any_job_or_extraction(local_ray, workspace):
    recipe = tiny_recipe(workspace / "gpu", train={"gpus_per_job": 1})
    with pytest.raises(ConfigError, match=r"train.gpus_per_job: each job requests 1 GPU.*0 GPU"):
        run_experiment(recipe, workspace / "gpu-run", backend="ray")
    assert not (workspace / "gpu" / "cache").exists()  # refused before feature extraction


def test_resource_requests_follow_the_settings():
    nodes = [{"CPU": 8.0}, {"CPU": 4.0, "GPU": 2.0}]
    assert job_resources(nodes, devices=1, jobs_per_node=1, cpus_per_job=None, gpus_per_job=None) == (1, 1)
    assert job_resources(nodes, devices=2, jobs_per_node=4, cpus_per_job=None, gpus_per_job=0) == (2, 0)
    assert job_resources(nodes, devices=1, jobs_per_node=1, cpus_per_job=3, gpus_per_job=None) == (3, 1)
    assert job_resources([{"CPU": 2.0}], devices=2, jobs_per_node=1, cpus_per_job=None, gpus_per_job=None) == (2, 0)
    check_resources(nodes, cpus=4, gpus=2)
    with pytest.raises(ConfigError, match="train.cpus_per_job"):
        check_resources(nodes, cpus=8, gpus=1)  # the 8-CPU node has no GPU
    with pytest.raises(ConfigError, match="train.gpus_per_job"):
        check_resources([{"CPU": 2.0}], cpus=1, gpus=1)


def test_backend_setting_is_checked_against_the_allowed_values(tmp_path):
    from emomtl.config import Recipe

    with pytest.raises(ConfigError, match=r"train.backend: 'slurm' must be one of \['local', 'ray'\]"):
        Recipe.parse(tiny_recipe(tmp_path, train={"backend": "slurm"}))


def test_progress_counts_finished_running_queued_failed_and_retried_jobs():
    from emomtl.training.ray_backend import JobProgress

    display = JobProgress(total=6, finished=1, enabled=False)  # one job was finished before this run
    display.finished, display.failed = 3, 1
    assert display.describe(started=4, retries=2) == "finished 3  running 1  queued 1  failed 1  retried 2"


def test_compare_command_runs_on_ray_with_the_progress_display(local_ray, recipe, workspace, local_results):
    from emomtl.cli.main import main
    from emomtl.config import save_recipe

    path = workspace / "tiny.yaml"
    save_recipe(recipe, path)
    out = workspace / "cli"
    assert main(["compare", str(path), "--backend", "ray", "--weightings", "static", "--out", str(out),
                 "--no-report"]) == 0
    expected = _metrics(local_results[local_results["strategy"] == "static"])
    pd.testing.assert_frame_equal(_metrics(pd.read_csv(out / "results.csv", dtype={"test_speakers": str,
                                                                                     "val_speakers": str})),
                                  expected, check_exact=False, atol=1e-6, check_dtype=False)
