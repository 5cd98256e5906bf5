"""Speed on these cores: feature extraction (cold vs cached), training samples/s per model, inference
real-time factor (feature extraction included) and the wall time of the full best EMO-DB LOSO run.

    python benchmarks/speed.py [--data ../shared/data] [--best-config mlp --best-strategy druw]

Real-time factor (RTF) = processing time / audio duration; "x real time" = 1 / RTF.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401
import numpy as np
import pandas as pd
import soundfile as sf
import torch
from _common import DEFAULT_DATA, ROOT, Timer, markdown_table, require_corpus, write_outputs
from emodb_loso import CONFIGS, config_recipe

from emomtl.data.corpora import load_corpus
from emomtl.features import FeatureCache, create_extractor, extract_features
from emomtl.inference import Recognizer
from emomtl.training.experiment import run_experiment
from emomtl.training.loop import SplitTrainer
from emomtl.training.logs import RunLogger
from emomtl.training.plan import plan_experiment
from emomtl.training.prepare import prepare_corpus

FEATURES = {
    "logmel 64": {"kind": "logmel", "n_mels": 64, "n_fft": 400, "hop_length": 160},
    "logmel 128": {"kind": "logmel", "n_mels": 128, "n_fft": 800, "hop_length": 400},
    "eGeMAPSv02 functionals": {"kind": "opensmile", "feature_set": "eGeMAPSv02", "level": "functionals"},
    "ComParE_2016 functionals": {"kind": "opensmile", "feature_set": "ComParE_2016", "level": "functionals"},
}


def extraction(paths: list[str], seconds: float, workers: int) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        cache = FeatureCache(Path(folder))
        for name, config in FEATURES.items():
            extractor = create_extractor(config)
            for state in ("cold", "cached"):
                start = time.perf_counter()
                result = extract_features(paths, extractor, cache=cache, num_workers=workers)
                elapsed = time.perf_counter() - start
                unit = "threads" if extractor.parallel == "thread" else "processes"
                rows.append({"measure": f"extract {name} ({state}, {workers} {unit})",
                             "files/s": f"{len(result.features) / elapsed:.1f}",
                             "RTF": f"{elapsed / seconds:.4f}", "x real time": f"{seconds / elapsed:.0f}"})
    return rows


def opensmile_sinks(paths: list[str], repeats: int = 20) -> list[dict]:
    """Milliseconds of one ComParE_2016 call on 50 ms of audio (openSMILE's per-call set-up of its native
    component graph, which every file pays) and per EMO-DB file (mean over the first 100 files), one thread,
    through the Python API's external sink and through the HTK sink emomtl uses (bit-identical values)."""
    import opensmile

    from emomtl.data.audio import load_audio

    extractor = create_extractor(FEATURES["ComParE_2016 functionals"])
    api = opensmile.Smile(opensmile.FeatureSet.ComParE_2016, opensmile.FeatureLevel.Functionals)
    runners = {"Python API sink": lambda signal: api.process_signal(signal, 16000),
               "HTK sink (emomtl)": extractor.from_prepared}
    signals = [load_audio(path, 16000) for path in paths[:100]]
    tiny = np.zeros(800, dtype=np.float32)
    rows = []
    for name, run in runners.items():
        run(tiny)  # builds the native objects
        start = time.perf_counter()
        for _ in range(repeats):
            run(tiny)
        fixed = (time.perf_counter() - start) / repeats
        start = time.perf_counter()
        for signal in signals:
            run(signal)
        per_file = (time.perf_counter() - start) / len(signals)
        rows.append({"measure": f"openSMILE ComParE_2016 through the {name}, one thread: fixed cost per call "
                                f"{1000 * fixed:.0f} ms of {1000 * per_file:.0f} ms per EMO-DB file",
                     "files/s": f"{1 / per_file:.1f}"})
    return rows


def training_speed(root: Path, epochs: int = 1) -> list[dict]:
    rows = []
    for name in CONFIGS:
        recipe = config_recipe(name, root, [f"train.epochs={epochs}"])
        with tempfile.TemporaryDirectory() as folder:
            run = plan_experiment(recipe, Path(folder), seeds=[0]).runs[0]
            split = run.split
            trainer = SplitTrainer(dataclasses.replace(run.job, out_dir=Path(folder)))
            with RunLogger(Path(folder), enabled=False) as logger:
                start = time.perf_counter()
                for _ in range(epochs):
                    trainer.train_epoch(logger)
                    trainer.epoch += 1
                elapsed = time.perf_counter() - start
        samples = epochs * len(split.train)
        rows.append({"measure": f"train {name} ({trainer.raw_model.name}, "
                                f"{sum(p.numel() for p in trainer.raw_model.parameters()):,} params)",
                     "samples/s": f"{samples / elapsed:.1f}"})
    return rows


def inference_speed(checkpoints: list[Path], paths: list[str], speakers: list[str], seconds: float,
                    workers: int, repeats: int = 5) -> dict:
    """``process_files`` over every file with ``workers`` extraction workers, per-speaker statistics from the
    EMO-DB speakers; several checkpoints are one seed ensemble (features extracted once, probabilities averaged).

    The pass is repeated ``repeats`` times: the row gives the median speed, the slowest and fastest pass, and the
    machine's 1-minute load average before the first pass (another busy process on these 2 cores shows there)."""
    torch.set_num_threads(2)
    recognizer = Recognizer.from_checkpoints(checkpoints)
    recognizer.process_file(paths[0])  # warm-up (imports, first allocation)
    load = os.getloadavg()[0]
    passes = []
    for _ in range(repeats):
        start = time.perf_counter()
        table = recognizer.process_files(paths, workers=workers, speakers=speakers)
        passes.append(time.perf_counter() - start)
        assert table["error"].isna().all(), table[table["error"].notna()]
    elapsed = float(np.median(passes))
    members = f", {len(checkpoints)}-seed ensemble" if len(checkpoints) > 1 else ""
    return {"measure": f"inference, best configuration{members}, {len(paths)} EMO-DB files, features included, "
                       f"{workers} extraction worker(s), per-speaker normalisation; median of {repeats} passes "
                       f"(slowest {seconds / max(passes):.0f}x, fastest {seconds / min(passes):.0f}x; "
                       f"load average {load:.2f} before)",
            "files/s": f"{len(paths) / elapsed:.1f}", "RTF": f"{elapsed / seconds:.4f}",
            "x real time": f"{seconds / elapsed:.0f}"}


def arm_of(strategy: str) -> dict:
    """``run_experiment`` arguments for one arm: a weighting strategy or ``single:<task>``."""
    if strategy.startswith("single:"):
        return {"weightings": [], "single_task": [strategy.split(":", 1)[1]]}
    return {"weightings": [strategy]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--best-config", default="mlp", choices=sorted(CONFIGS))
    parser.add_argument("--best-strategy", default="druw")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--ensemble-size", type=int, default=1, help="seeds ensembled at inference (<= seeds)")
    parser.add_argument("--skip-full-run", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    root = require_corpus(args.data, "emodb")
    table = load_corpus("emodb", root).table
    paths = table["path"].tolist()
    seconds = float(sum(sf.info(p).duration for p in paths))
    rows = extraction(paths, seconds, workers=2)
    rows += opensmile_sinks(paths)
    rows += training_speed(root)
    recipe = config_recipe(args.best_config, root)
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        run_dir = Path(folder)
        prepare_corpus(recipe, progress=False)  # warm the feature cache: the target is for a warm cache
        if args.skip_full_run:  # one fold, one seed: enough for a checkpoint to time inference with
            run_experiment(recipe | {"train": recipe["train"] | {"max_folds": 1}}, run_dir,
                           seeds=seeds[: args.ensemble_size], **arm_of(args.best_strategy))
        else:
            with Timer() as timer:
                run_experiment(recipe, run_dir, seeds=seeds, jobs=args.jobs, **arm_of(args.best_strategy))
            rows.append({"measure": f"full LOSO run: {args.best_config}/{args.best_strategy}, "
                                    f"10 folds x {len(seeds)} seeds, "
                                    f"cache warm, {args.jobs} jobs", "wall time (s)": f"{timer.seconds:.0f}"})
        arm = args.best_strategy.replace(":", "_")
        first_fold = sorted(run_dir.glob(f"runs/{arm}/*_seed{seeds[0]}"))[0].name.rsplit("_seed", 1)[0]
        checkpoints = [run_dir / "runs" / arm / f"{first_fold}_seed{seed}" / "checkpoint_best.pt"
                       for seed in seeds[: args.ensemble_size]]
        for workers in (1, 2):
            rows.append(inference_speed(checkpoints, paths, table["speaker"].astype(str).tolist(), seconds, workers))
    frame = pd.DataFrame(rows).fillna("")
    write_outputs(args.out, "speed", frame, {"audio_seconds": seconds, "files": len(paths)})
    print(markdown_table(frame))


if __name__ == "__main__":
    main()
