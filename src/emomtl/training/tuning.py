"""Settings chosen on validation speakers only: an Optuna search inside the training folds.

For each outer fold the test speakers are removed from the corpus before anything else happens (task label sets,
standardisation statistics, class weights, features): a trial trains on that fold's training speakers and is
scored on its validation speakers (``train.select_metric`` at the best epoch). A trial's value is the mean over
the folds searched; the test speakers of those folds never reach the search, so their labels cannot change the
choice. Sampler: Optuna's TPE (seeded); pruner: median pruning over the per-fold values reported as they finish.
Every speaker of a searched fold's training and validation sets did shape the choice, though: the chosen recipe
records them (``tuned_on``), and a later ``cv`` of the same corpus warns, and its report says, which of its test
speakers those were (:mod:`emomtl.data.tuned_speakers`).

The search space is a YAML mapping of dotted recipe keys to parameter specs::

    optim.lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
    model.dropout: {type: float, low: 0.1, high: 0.6}
    train.epochs: {type: int, low: 10, high: 40, step: 10}
    features.whisper.layers: {type: categorical, choices: [[3], [2, 3], [1, 2, 3]]}
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from emomtl.config import Recipe, apply_overrides, as_dict, as_recipe, parse_recipe, read_yaml, save_recipe
from emomtl.data.protocols import Split
from emomtl.data.tuned_speakers import speakers_of, tuned_on_record
from emomtl.runtime.files import write_csv, write_json
from emomtl.errors import ConfigError
from emomtl.training.evaluate import selection_sign
from emomtl.training.prepare import PreparedCorpus, fit_tasks, prepare_corpus

PARAM_TYPES = ("float", "int", "categorical")


@dataclass(frozen=True)
class Param:
    """One searched setting: its dotted recipe key and how Optuna samples it."""

    key: str
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: Any) -> Any:
        if self.type == "float":
            return trial.suggest_float(self.key, self.low, self.high, log=self.log, step=self.step)
        if self.type == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        index = trial.suggest_categorical(self.key, list(range(len(self.choices))))  # any YAML value, by index
        return self.choices[index]


def load_space(path: str | Path) -> list[Param]:
    """Parse a search-space YAML file; every error names the key and what is allowed."""
    try:
        raw = read_yaml(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"--space {path}: cannot read a YAML mapping ({error})") from error
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"--space {path}: need a non-empty mapping of dotted recipe keys to parameter specs")
    params = []
    for key, spec in raw.items():
        if not isinstance(spec, dict) or spec.get("type") not in PARAM_TYPES:
            raise ConfigError(f"space.{key}: need a mapping with type one of {list(PARAM_TYPES)}")
        unknown = set(spec) - {"type", "low", "high", "log", "step", "choices"}
        if unknown:
            raise ConfigError(f"space.{key}: unknown option(s) {sorted(unknown)}")
        if spec["type"] == "categorical":
            choices = spec.get("choices")
            if not isinstance(choices, list) or not choices:
                raise ConfigError(f"space.{key}.choices: need a non-empty list")
            params.append(Param(str(key), "categorical", choices=tuple(choices)))
            continue
        low, high = spec.get("low"), spec.get("high")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (low, high)) \
                or not low < high:
            raise ConfigError(f"space.{key}: need finite numbers low < high, got low={low!r} high={high!r}")
        if spec.get("log") and low <= 0:
            raise ConfigError(f"space.{key}.low: must be > 0 with log: true")
        params.append(Param(str(key), spec["type"], float(low), float(high), bool(spec.get("log", False)),
                            spec.get("step")))
    return params


def overrides_for(values: dict[str, Any]) -> list[str]:
    """``{"optim.lr": 0.001}`` -> ``["optim.lr=0.001"]`` (values written as YAML flow text)."""
    return [f"{key}={yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()}"
            for key, value in values.items()]


def without_test(prepared: PreparedCorpus, split: Split) -> tuple[PreparedCorpus, Split]:
    """The corpus without the split's test rows, and the split re-indexed into it (test empty)."""
    keep = np.sort(np.concatenate([split.train, split.validation]))
    position = {int(row): i for i, row in enumerate(keep)}
    table = prepared.table.iloc[keep].reset_index(drop=True)
    inputs = {name: [values[i] for i in keep] for name, values in prepared.inputs.items()}
    views = {factor: {name: [values[i] for i in keep] for name, values in view.items()}
             for factor, view in prepared.views.items()}
    inner = dataclasses.replace(
        split, train=np.array([position[int(r)] for r in split.train], dtype=int),
        validation=np.array([position[int(r)] for r in split.validation], dtype=int),
        test=np.array([], dtype=int), test_speakers=[])
    return dataclasses.replace(prepared, table=table, inputs=inputs, views=views, skipped=[]), inner


def validation_value(recipe: dict[str, Any], prepared: PreparedCorpus, split: Split, seed: int,
                     work_dir: Path) -> float:
    """Train on the split's training speakers; the best epoch's ``train.select_metric`` on its validation speakers."""
    from emomtl.training.experiment import scored_tasks
    from emomtl.training.logs import RunLogger
    from emomtl.training.loop import SplitJob, SplitTrainer

    if not len(split.validation):
        raise ConfigError("protocol: tuning needs validation speakers inside each training fold "
                          "(e.g. protocol.validation_speakers: 2)")
    corpus, inner = without_test(prepared, split)
    recipe = as_recipe(recipe)
    tasks = scored_tasks(fit_tasks(recipe, corpus.table), recipe.protocol)
    job = SplitJob(recipe, tasks, corpus, inner, recipe.weighting, seed, work_dir, label=f"tune {split.name}")
    work_dir.mkdir(parents=True, exist_ok=True)
    trainer = SplitTrainer(job)
    with RunLogger(work_dir, tensorboard=False, total_epochs=recipe.train.epochs, history=trainer.history) as logger:
        trainer.fit(logger)
    metric = recipe.train.select_metric
    return selection_sign(metric) * float(trainer.best["value"])


@dataclass
class TuneResult:
    best_overrides: list[str]
    best_value: float
    trials: pd.DataFrame
    recipe: dict[str, Any]


def tune(recipe: Recipe | dict[str, Any], space: list[Param], trials: int, out_dir: Path,
         folds: list[int] | None = None,
         seed: int = 0, progress: bool = False, on_trial: Any = None) -> TuneResult:
    """Search ``space`` for ``trials`` trials on validation speakers of the chosen folds (default: every fold).

    Writes ``trials.csv`` (one row per trial: values, per-fold validation values, state), ``best_recipe.yaml``
    (the recipe with the chosen values) and ``study.json`` (sampler, pruner, metric, folds) to ``out_dir``.
    """
    import optuna

    from emomtl.training.experiment import build_splits

    if trials < 1:
        raise ConfigError(f"--trials: need at least 1, got {trials}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    recipe = as_dict(recipe)
    metric = as_recipe(recipe).train.select_metric
    direction = "maximize" if selection_sign(metric) > 0 else "minimize"
    sampler = optuna.samplers.TPESampler(seed=seed)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0)
    study = optuna.create_study(direction=direction, sampler=sampler, pruner=pruner)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    fold_values: dict[int, list[float]] = {}
    corpora: dict[str, PreparedCorpus] = {}
    searched_speakers: set[str] = set()  # whose labels the search used: training and validation speakers

    def objective(trial: Any) -> float:
        values = {param.key: param.suggest(trial) for param in space}
        candidate = parse_recipe(copy.deepcopy(recipe), overrides_for(values))
        features_key = json.dumps([candidate.features, candidate.data.to_dict()], sort_keys=True, default=str)
        if features_key not in corpora:  # a searched feature setting extracts (or reads from cache) once
            corpora[features_key] = prepare_corpus(candidate, progress=progress)
        prepared = corpora[features_key]
        splits = build_splits(candidate, prepared.table)
        chosen = folds if folds is not None else list(range(len(splits)))
        bad = [k for k in chosen if not 0 <= k < len(splits)]
        if bad:
            raise ConfigError(f"--folds: {bad} out of range; the protocol has {len(splits)} folds")
        seed_run = candidate.train.run_seeds()[0]
        searched_speakers.update(speakers_of(prepared.table, [rows for k in chosen
                                                             for rows in (splits[k].train, splits[k].validation)]))
        got = []
        with tempfile.TemporaryDirectory(prefix="emomtl-tune-") as scratch:
            for step, k in enumerate(chosen):
                value = validation_value(candidate, prepared, splits[k], seed_run, Path(scratch) / f"fold{k}")
                got.append(value)
                trial.report(float(np.mean(got)), step)
                if trial.should_prune():
                    fold_values[trial.number] = got
                    raise optuna.TrialPruned()
        fold_values[trial.number] = got
        return float(np.mean(got))

    callbacks = [lambda _, trial: on_trial(trial.number, trial.state.name, trial.value,
                                           fold_values.get(trial.number, []))
                 ] if on_trial else []
    study.optimize(objective, n_trials=trials, catch=(), callbacks=callbacks)
    table = study.trials_dataframe(attrs=("number", "value", "state", "params"))
    table["fold_values"] = [json.dumps(fold_values.get(int(n), [])) for n in table["number"]]
    for param in space:  # categorical choices are sampled by index: show the value itself
        column = f"params_{param.key}"
        if param.type == "categorical" and column in table:
            table[column] = [json.dumps(param.choices[int(i)]) if pd.notna(i) else None for i in table[column]]
    completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not completed:
        raise ConfigError("tune: every trial was pruned or failed; raise --trials")
    best = study.best_trial
    best_values = {p.key: (p.choices[best.params[p.key]] if p.type == "categorical" else best.params[p.key])
                   for p in space}
    best_overrides = overrides_for(best_values)
    chosen_recipe = apply_overrides(recipe, best_overrides)
    chosen_recipe["tuned_on"] = tuned_on_record(chosen_recipe, searched_speakers)
    write_csv(out_dir / "trials.csv", table, index=False)
    save_recipe(chosen_recipe, out_dir / "best_recipe.yaml")
    write_json(out_dir / "study.json", {
        "metric": metric, "direction": direction, "best_value": best.value, "best_overrides": best_overrides,
        "trials": trials, "folds": folds if folds is not None else "all",
        "sampler": f"TPESampler(seed={seed})", "pruner": "MedianPruner(n_startup_trials=3, n_warmup_steps=0)",
        "scope": "validation speakers inside each training fold; test speakers removed before every trial",
        "tuned_on": chosen_recipe["tuned_on"],
    })
    return TuneResult(best_overrides, float(best.value), table, chosen_recipe)

