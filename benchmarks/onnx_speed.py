"""onnxruntime vs torch: inference time and peak memory of every exportable architecture at its paper size.

    python benchmarks/onnx_speed.py [--iterations 20] [--threads 1] [--out benchmarks/results]

Each architecture of ``model_throughput.py``'s paper cases that ONNX can express (``wave_av_lstm`` cannot: FFT
convolutions on complex tensors) is built with random weights, saved, and exported with
``emomtl.export.onnx.export_module`` (probabilities in the graph, as ``emomtl export`` writes them). Then each backend
runs in a fresh child process (a process's peak RSS never goes down), with the same intra-op thread count, on a
batch of that case's inference size:

* ``ms / batch``: median wall time of one forward over ``--iterations`` runs after 3 warm-up runs;
* ``clips / s``: batch size / that median;
* ``peak RSS MB``: the child's peak resident memory after loading and running (libraries included: the
  onnxruntime child never imports torch, which is the point of deploying the ONNX file);
* ``+ run MB``: peak RSS minus the RSS of the bare child before its backend was imported (the backend library,
  the model and its activations);
* ``max abs diff``: the largest difference between the two backends' outputs on the same batch.

Writes ``onnx_speed.{csv,json,md}`` to ``--out``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
MB = 1024 * 1024


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MB


def peak_rss_mb() -> float:
    """VmHWM: unlike ``getrusage``'s ru_maxrss, which Linux carries over from the parent through fork and exec, the
    high-water mark belongs to this process's own address space."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status")


def batch_inputs(shapes: dict[str, list[int]], batch: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {key: rng.standard_normal((batch, *shape)).astype(np.float32) for key, shape in shapes.items()}


def child(job: dict) -> dict:
    """Run one backend on one model in this (fresh) process; returns timings, memory and outputs."""
    before = rss_mb()
    inputs = batch_inputs(job["shapes"], job["batch"])
    if job["backend"] == "onnxruntime":
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = job["threads"]
        session = onnxruntime.InferenceSession(job["onnx"], options, providers=["CPUExecutionProvider"])

        def step() -> list[np.ndarray]:
            return session.run(None, inputs)
    else:
        import torch

        torch.set_num_threads(job["threads"])
        model = torch.load(job["torch"], weights_only=False)
        tensors = {k: torch.from_numpy(v) for k, v in inputs.items()}

        def step() -> list[np.ndarray]:
            with torch.no_grad():
                return [out.numpy() for out in model(*tensors.values())]
    if "torch" in sys.modules and job["backend"] == "onnxruntime":
        raise RuntimeError("the onnxruntime child imported torch")
    for _ in range(3):
        outputs = step()
    times = []
    for _ in range(job["iterations"]):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return {"seconds": statistics.median(times), "peak_rss_mb": peak_rss_mb(), "before_mb": before,
            "outputs": [o.tolist() for o in outputs]}


def run_child(job: dict) -> dict:
    result = subprocess.run([sys.executable, __file__, "--child", json.dumps(job)], capture_output=True, text=True,
                            check=True, env={**os.environ, "OMP_NUM_THREADS": str(job["threads"])})
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return

    import onnxruntime
    import pandas as pd
    import torch

    sys.path.insert(0, str(HERE))
    from _common import write_outputs
    from model_throughput import make_tasks, paper_cases

    from emomtl.export.onnx import NOT_EXPORTABLE, ProbabilityGraph, export_module
    from emomtl.models import build_model

    cases = [c for c in paper_cases(with_encoders=False) if c.config["name"] not in NOT_EXPORTABLE]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for index, case in enumerate(cases):
            torch.manual_seed(0)
            tasks = make_tasks(case.tasks)
            model = build_model(case.config, tasks, case.input_shapes).eval()
            keys = list(model.input_keys)
            graph = ProbabilityGraph(model, keys, tasks).eval()
            shapes = {k: list(case.input_shapes[k]) for k in keys}
            example = {k: torch.from_numpy(v) for k, v in batch_inputs(shapes, 2).items()}
            onnx_path = export_module(model, tasks, example, Path(tmp) / f"{index}.onnx")
            torch_path = Path(tmp) / f"{index}.pt"
            torch.save(graph, torch_path)
            job = {"shapes": shapes, "batch": case.infer_batch, "threads": args.threads,
                   "iterations": args.iterations, "onnx": str(onnx_path), "torch": str(torch_path)}
            results = {backend: run_child({**job, "backend": backend}) for backend in ("torch", "onnxruntime")}
            diff = max(float(np.abs(np.asarray(a) - np.asarray(b)).max())
                       for a, b in zip(results["torch"]["outputs"], results["onnxruntime"]["outputs"]))
            for backend, result in results.items():
                rows.append({
                    "model": case.label, "backend": backend, "batch": case.infer_batch,
                    "ms / batch": round(1000 * result["seconds"], 2),
                    "clips / s": round(case.infer_batch / result["seconds"], 1),
                    "peak RSS MB": round(result["peak_rss_mb"]),
                    "+ run MB": round(result["peak_rss_mb"] - result["before_mb"]),
                    "max abs diff": f"{diff:.1e}",
                })
                print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    extra = {"threads": args.threads, "iterations": args.iterations, "torch": torch.__version__,
             "onnxruntime": onnxruntime.__version__, "cpu": platform.processor() or platform.machine(),
             "not_exportable": NOT_EXPORTABLE}
    write_outputs(args.out, "onnx_speed", table, extra)
    print(f"\n{(args.out / 'onnx_speed.md').read_text()}")


if __name__ == "__main__":
    main()
