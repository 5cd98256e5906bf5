"""Recipes: YAML files that declare a whole experiment, with dotted command-line overrides.

A recipe has these sections (see ``recipes/*.yaml``)::

    name, description, data, features, inputs, tasks, model, weighting, optim, scheduler,
    train, protocol, compare, output

Keys of the fixed sections are checked here (an unknown key or a wrong type fails before any
work, naming the key's dotted path). Open sections (``model``, ``weighting``, ``features`` entries)
are checked by the component that consumes them, which raises the same :class:`ConfigError`.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import yaml

from emomtl.errors import ConfigError


class RecipeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads ``1e-3`` as a number (YAML 1.2; PyYAML's 1.1 rules want ``1.0e-3``).
    Safe: no tag builds a Python object."""


RecipeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                  |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                  |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                  |[-+]?\.(?:inf|Inf|INF)
                  |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."))


def read_yaml(text: str) -> Any:
    """Parse recipe text (a file or an override value) with :class:`RecipeLoader`."""
    return yaml.load(text, Loader=RecipeLoader)  # noqa: S506 (a SafeLoader subclass)

_NUMBER = (int, float)
_OPTIONAL_STR = (str, type(None))
_OPTIONAL_INT = (int, type(None))
_OPTIONAL_NUMBER = (int, float, type(None))

Check = Callable[[Any], "str | None"]

#: Where ``cv``/``compare`` run their jobs (``train.backend``, ``--backend``; ``emomtl.training.backends``).
BACKENDS = ("local", "ray")


def setting(default: Any, types: tuple[type, ...], check: Check | None = None) -> Any:
    """A recipe setting: its one default, the accepted YAML types and a value check (returns the allowed range)."""
    metadata = {"types": types, "check": check}
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def at_least(low: int | float, optional: bool = False) -> Check:
    def check(value: Any) -> str | None:
        if value is None and optional:
            return None
        if not math.isfinite(value):
            return f"must be finite and >= {low}{' (or null)' if optional else ''}"
        return None if value >= low else f"must be >= {low}{' (or null)' if optional else ''}"
    return check


def corpora_entries(value: list[Any] | None) -> str | None:
    """``data.corpora``: mappings of ``corpus`` (a name), ``root`` and ``options``, nothing else."""
    for index, entry in enumerate(value or []):
        if not isinstance(entry, dict) or not isinstance(entry.get("corpus"), str):
            return f"entry {index} must be a mapping with a corpus name, e.g. {{corpus: savee, root: /data/SAVEE}}"
        unknown = sorted(set(entry) - {"corpus", "root", "options"})
        if unknown:
            return f"entry {index}: unknown key(s) {unknown} (allowed: corpus, root, options)"
    return None


def positive(optional: bool = False) -> Check:
    def check(value: Any) -> str | None:
        if value is None and optional:
            return None
        return (None if math.isfinite(value) and value > 0
                else f"must be finite and > 0{' (or null)' if optional else ''}")
    return check


def one_of(*allowed: Any) -> Check:
    return lambda value: None if value in allowed else f"must be one of {list(allowed)}"


def int_list(value: Any) -> str | None:
    ok = bool(value) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    return None if ok else "must be a non-empty list of integers"


class Section:
    """A fixed recipe section: typed fields with one default each, parsed from (and back to) a mapping."""

    #: The section's key in the recipe.
    KEY: ClassVar[str] = ""

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> Any:
        """Check every key, type and value of ``raw`` (errors name ``<section>.<key>`` and the allowed values)."""
        raw = dict(raw or {})
        known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
        for key, value in raw.items():
            if key not in known:
                raise ConfigError(f"{cls.KEY}.{key}: unknown key; valid keys: {sorted(known)}")
            _check(value, known[key].metadata["types"], f"{cls.KEY}.{key}")
            check = known[key].metadata["check"]
            problem = check(value) if check else None
            if problem:
                raise ConfigError(f"{cls.KEY}.{key}: {value!r} {problem}")
        return cls(**copy.deepcopy(raw))

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(asdict(self))  # type: ignore[call-overload]


@dataclass
class DataSettings(Section):
    """``data``: the corpus (or pooled corpora) and how its audio is read."""

    KEY: ClassVar[str] = "data"
    corpus: str = setting("demo", (str,))
    """Corpus name (``emomtl data list``)."""
    root: str | None = setting(None, _OPTIONAL_STR)
    """Folder the corpus lives in (generated corpora may omit it)."""
    options: dict[str, Any] = setting({}, (dict,))
    """Options of the corpus adapter."""
    corpora: list[dict[str, Any]] | None = setting(None, (list, type(None)), lambda value: corpora_entries(value))
    """Pooled corpora: a list of ``{corpus, root, options}`` (replaces ``corpus``/``root``/``options``)."""
    label_map: str | None = setting(None, _OPTIONAL_STR)
    """Label map applied to the table (name or YAML path)."""
    check_audio: bool = setting(True, (bool,))
    """Open every audio file while loading and skip unreadable ones."""
    sample_rate: int = setting(16000, (int,), at_least(1))
    """Sample rate the audio is resampled to (Hz, >= 1)."""
    max_files: int | None = setting(None, _OPTIONAL_INT, at_least(1, optional=True))
    """Use a seeded random subset of this many files (>= 1, or null for all)."""
    cache_dir: str | None = setting(None, _OPTIONAL_STR)
    """Feature cache folder (null: ~/.cache/emomtl/features)."""


@dataclass
class OptimSettings(Section):
    """``optim``: the model's optimiser (unset optional settings keep torch's defaults)."""

    KEY: ClassVar[str] = "optim"
    name: str = setting("adam", (str,))
    """Optimiser (``adam``, ``adamw``, ``sgd``, ``rmsprop``)."""
    lr: float = setting(1e-3, _NUMBER, positive())
    """Learning rate (finite, > 0)."""
    weight_decay: float = setting(0.0, _NUMBER, at_least(0))
    """L2 penalty / decoupled weight decay (>= 0)."""
    momentum: float | None = setting(None, _OPTIONAL_NUMBER, at_least(0, optional=True))
    """SGD / RMSprop momentum (>= 0, or null for torch's default)."""
    betas: list[float] | None = setting(None, (list, type(None)))
    """Adam betas ``[beta1, beta2]`` (null for torch's default)."""
    alpha: float | None = setting(None, _OPTIONAL_NUMBER)
    """RMSprop smoothing constant (null for torch's default)."""
    eps: float | None = setting(None, _OPTIONAL_NUMBER, positive(optional=True))
    """Denominator term (> 0, or null for torch's default)."""

    def options(self) -> dict[str, Any]:
        """Keyword arguments of the torch optimiser (the settings that are set)."""
        return {k: v for k, v in self.to_dict().items() if k != "name" and v is not None}

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in super().to_dict().items() if v is not None}


@dataclass
class SchedulerSettings(Section):
    """``scheduler``: the epoch-level learning-rate schedule."""

    KEY: ClassVar[str] = "scheduler"
    name: str = setting("none", (str,))
    """Schedule (``none``, ``cosine``, ``step``, ``plateau``)."""
    warmup_epochs: int = setting(0, (int,), at_least(0))
    """Linear warm-up epochs before the cosine decay (>= 0)."""
    step_size: int = setting(10, (int,), at_least(1))
    """``step``: epochs between decays (>= 1)."""
    gamma: float = setting(0.1, _NUMBER, positive())
    """``step``: decay factor (> 0)."""
    min_lr: float = setting(0.0, _NUMBER, at_least(0))
    """``cosine``: the final learning rate (>= 0)."""
    patience: int = setting(5, (int,), at_least(0))
    """``plateau``: epochs without improvement before a decay (>= 0)."""
    factor: float = setting(0.5, _NUMBER, positive())
    """``plateau``: decay factor (> 0)."""


@dataclass
class TrainSettings(Section):
    """``train``: the training loop of one run."""

    KEY: ClassVar[str] = "train"
    epochs: int = setting(10, (int,), at_least(1))
    """Maximum number of epochs (>= 1)."""
    batch_size: int = setting(32, (int,), at_least(1))
    """Training batch size (>= 1)."""
    eval_batch_size: int | None = setting(None, _OPTIONAL_INT, at_least(1, optional=True))
    """Evaluation batch size (>= 1, or null for 64)."""
    grad_clip: float | None = setting(None, _OPTIONAL_NUMBER, lambda v: None if v is None or (
        math.isfinite(v) and v > 0) else "must be a positive gradient norm (e.g. 1.0), or null for none")
    """Maximum global gradient norm (> 0, or null for none)."""
    ema_decay: float | None = setting(None, _OPTIONAL_NUMBER, lambda v: None if v is None or 0 < v < 1 else
                                      "must lie strictly between 0 and 1 (e.g. 0.99), or be null")
    """Decay of the exponential moving average of the weights (0 < d < 1, or null for none)."""
    seed: int = setting(0, (int,))
    """Seed of a single run (``train``); ``seeds`` lists the seeds of ``cv``/``compare``."""
    seeds: list[int] = setting([0], (list,), int_list)
    """Seeds of every fold (a non-empty list of integers)."""
    select_metric: str = setting("val.score", (str,))
    """Validation column that picks the best epoch (e.g. ``val.score``, ``val.emotion.ua``)."""
    early_stopping: int | None = setting(None, _OPTIONAL_INT, at_least(1, optional=True))
    """Stop after this many epochs without improvement (>= 1, or null for never)."""
    num_workers: int = setting(0, (int,), at_least(0))
    """Feature-extraction workers (>= 0; 0 means 2)."""
    devices: int = setting(1, (int,), at_least(1))
    """Data-parallel processes (>= 1)."""
    backend: str = setting("local", (str,), one_of(*BACKENDS))
    """Where ``cv``/``compare`` run their jobs: ``local`` (this machine) or ``ray`` (Ray tasks;
    ``pip install emomtl[ray]``)."""
    cpus_per_job: int | None = setting(None, _OPTIONAL_INT, at_least(1, optional=True))
    """``ray``: CPUs each job requests (>= 1, or null for a node's cores / ``--jobs``, else ``devices``)."""
    gpus_per_job: int | None = setting(None, _OPTIONAL_INT, at_least(0, optional=True))
    """``ray``: GPUs each job requests (>= 0, or null for ``devices`` when the cluster has GPUs, else 0)."""
    precision: str = setting("32-true", (str,), one_of("32-true", "bf16-mixed", "16-mixed"))
    """Numeric precision (``32-true``; ``bf16-mixed``: bfloat16 autocast, CPU or CUDA; ``16-mixed``: CUDA only)."""
    channels_last: bool = setting(False, (bool,))
    """Store 4-D convolution weights channels-last (NHWC; faster convolutions on oneDNN / cuDNN)."""
    log_every: int = setting(10, (int,), at_least(1))
    """Steps between rows of ``steps.csv`` (>= 1)."""
    log_grad_norms: bool = setting(False, (bool,))
    """Add each task's gradient norm on the shared parameters to ``steps.csv`` (one extra backward per task)."""
    augment: dict[str, Any] = setting({}, (dict,))
    """Training-time augmentation (``speed``, ``noise``, ``mixup``, ...; checked by ``training.augment``)."""
    score: str = setting("mean", (str,), one_of("mean", "hmean"))
    """How task metrics combine into ``score``: ``mean``, or ``hmean`` (harmonic mean, the ExVo score)."""
    refit: bool = setting(False, (bool,))
    """Retrain on training + validation speakers for the chosen number of epochs before testing."""
    tensorboard: bool = setting(True, (bool,))
    """Write TensorBoard event files next to ``history.csv``."""
    max_folds: int | None = setting(None, _OPTIONAL_INT, at_least(1, optional=True))
    """Run only the first N folds (>= 1, or null for all)."""

    def run_seeds(self) -> list[int]:
        """The seeds of ``cv``/``compare`` (``seeds``, else ``seed``)."""
        return list(self.seeds or [self.seed])


@dataclass
class ProtocolSettings(Section):
    """``protocol``: how the corpus is split into training, validation and test speakers."""

    KEY: ClassVar[str] = "protocol"
    name: str = setting("loso", (str,))
    """Protocol (``emomtl data protocols``)."""
    seed: int = setting(0, (int,))
    """Seed of the speaker draws."""
    validation_speakers: int = setting(1, (int,), at_least(0))
    """Speakers held out of each training part for validation (>= 0)."""
    folds: int | None = setting(None, _OPTIONAL_INT, at_least(2, optional=True))
    """``speaker_kfold``: number of folds (>= 2, or null for the protocol's default)."""
    test_speakers: list[Any] | None = setting(None, (list, type(None)))
    """Fixed test speakers (null: the protocol draws them)."""
    test_corpora: list[str] | str | None = setting(None, (list, str, type(None)))
    """Corpora held out whole for testing (pooled data)."""
    speaker_independent: bool | None = setting(None, (bool, type(None)))
    """``random``/``fixed``: keep every speaker in one part (null: the protocol's default, true)."""
    ratios: list[float] | None = setting(None, (list, type(None)))
    """``random``: train/validation/test fractions (null for the protocol's default)."""
    validation_sessions: int | None = setting(None, _OPTIONAL_INT, at_least(0, optional=True))
    """``loso_session``: sessions held out of training for validation (>= 0, or null for the default, 0)."""
    stratify: str | None = setting(None, _OPTIONAL_STR)
    """``random`` without speaker independence: the column whose classes are split evenly (null: ``emotion``)."""

    def options(self) -> dict[str, Any]:
        """Keyword options of :func:`emomtl.data.protocols.make_splits` (the settings that are set)."""
        return {k: v for k, v in self.to_dict().items() if k not in ("name", "seed") and v is not None}

    @property
    def is_speaker_independent(self) -> bool:
        return self.name != "random" or self.speaker_independent is not False

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in super().to_dict().items() if v is not None}


@dataclass
class CompareSettings(Section):
    """``compare``: the arms of ``emomtl compare``."""

    KEY: ClassVar[str] = "compare"
    weightings: list[str] = setting(["static"], (list,))
    """Weighting strategies compared on identical folds."""
    single_task: bool | list[str] = setting(False, (bool, list))
    """Add one single-task baseline per scored task (true) or for the tasks named (a list)."""
    models: list[Any] = setting([], (list,))
    """Other models run as arms beside the weightings on the same folds, e.g. ``[linear_svm]``."""
    params: dict[str, dict[str, Any]] = setting({}, (dict,))
    """Per-strategy weighting settings (``compare.params.<strategy>.<key>``)."""


@dataclass
class OutputSettings(Section):
    """``output``: where runs are written."""

    KEY: ClassVar[str] = "output"
    dir: str = setting("runs", (str,))
    """Parent folder of run directories (``<dir>/<recipe>-<command>``)."""


#: Fixed sections by key.
SECTIONS: dict[str, type[Section]] = {cls.KEY: cls for cls in (
    DataSettings, OptimSettings, SchedulerSettings, TrainSettings, ProtocolSettings, CompareSettings, OutputSettings)}

#: Top-level keys and their types; ``SECTIONS`` are checked key by key.
TOP_LEVEL: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "description": (str,),
    "method": (str,),
    "reference": (str,),
    "tuned_on": (dict,),
    "data": (dict,),
    "features": (dict,),
    "inputs": (dict,),
    "tasks": (list,),
    "model": (dict,),
    "weighting": (dict,),
    "optim": (dict,),
    "scheduler": (dict,),
    "train": (dict,),
    "protocol": (dict,),
    "compare": (dict,),
    "output": (dict,),
}

#: Keys of each ``inputs.<name>`` entry (batch-time shaping of one input; values checked by ``InputSpec``).
INPUT_KEYS: dict[str, tuple[type, ...]] = {
    "length": _OPTIONAL_INT,
    "train_crop": (str,),
    "eval_crop": (str,),
    "pad_value": (int, float, type(None)),
    "standardize": (bool, str),
    "window_hop": _OPTIONAL_INT,
}

#: Keys of the open ``weighting`` section checked here (the strategy checks its own parameters):
#: the optimiser of the strategy's parameters and the precision factor of the uncertainty family.
WEIGHTING_KEYS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "lr": (*_NUMBER, type(None)),
    "follow_schedule": (bool,),
    "precision_factor": (str,),
}
PRECISION_FACTORS = ("paper", "kendall")


def check_weighting_section(section: dict[str, Any], where: str) -> None:
    """Types and values of the ``WEIGHTING_KEYS`` in a weighting section (``where``: its dotted path)."""
    for key, types in WEIGHTING_KEYS.items():
        if key in section:
            _check(section[key], types, f"{where}.{key}")
    lr = section.get("lr")
    if lr is not None and not lr > 0:
        raise ConfigError(f"{where}.lr: must be > 0 (or null for the model's optim.lr), got {lr!r}")
    factor = section.get("precision_factor")
    if factor is not None and factor not in PRECISION_FACTORS:
        raise ConfigError(f"{where}.precision_factor: {factor!r} is not one of {list(PRECISION_FACTORS)}")


def _check_inputs(inputs: dict[str, Any]) -> None:
    for name, entry in inputs.items():
        _check(entry, (dict,), f"inputs.{name}")
        for key, value in entry.items():
            if key not in INPUT_KEYS:
                raise ConfigError(f"inputs.{name}.{key}: unknown key; valid keys: {sorted(INPUT_KEYS)}")
            _check(value, INPUT_KEYS[key], f"inputs.{name}.{key}")
        length = entry.get("length")
        if length is not None and length <= 0:
            raise ConfigError(f"inputs.{name}.length: must be > 0 (or null for whole inputs), got {length!r}")


@dataclass
class Recipe:
    """A parsed recipe: typed fixed sections; ``features``, ``inputs``, ``tasks``, ``model`` and ``weighting`` stay
    mappings checked by the component that consumes them (feature extractors, ``InputSpec``, ``TaskSpec``,
    ``models.settings``, the weighting strategy)."""

    name: str | None = None
    """Recipe name (default: the file's stem)."""
    description: str = ""
    method: str | None = None
    reference: str | None = None
    tuned_on: dict[str, Any] | None = None
    """Written by ``emomtl tune``: the corpora and speakers whose labels chose this recipe's settings
    (:func:`check_tuned_on`); a test speaker among them is not independent of the settings."""
    data: DataSettings = field(default_factory=DataSettings)
    features: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Feature extractors by input name (each with a ``kind``)."""
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Batch-time shaping of each input (``InputSpec``)."""
    tasks: list[dict[str, Any]] = field(default_factory=list)
    """Task declarations (``TaskSpec``)."""
    model: dict[str, Any] = field(default_factory=dict)
    """The model's settings (``name`` + its architecture's settings, ``models.settings``)."""
    weighting: dict[str, Any] = field(default_factory=lambda: {"name": "static"})
    """The weighting strategy (``name`` + its parameters + ``WEIGHTING_KEYS``)."""
    optim: OptimSettings = field(default_factory=OptimSettings)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    protocol: ProtocolSettings = field(default_factory=ProtocolSettings)
    compare: CompareSettings = field(default_factory=CompareSettings)
    output: OutputSettings = field(default_factory=OutputSettings)

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> "Recipe":
        """Check a recipe mapping (defaults fill what it leaves out); errors name the dotted path of the key."""
        validate_recipe(raw)
        values: dict[str, Any] = {}
        for key, value in raw.items():
            values[key] = SECTIONS[key].parse(value) if key in SECTIONS else copy.deepcopy(value)
        if "weighting" in values:
            values["weighting"] = {"name": "static", **values["weighting"]}
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The plain mapping (what checkpoints, ``config.yaml`` and fingerprints hold)."""
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None and item.name in ("name", "method", "reference", "tuned_on"):
                continue
            out[item.name] = value.to_dict() if isinstance(value, Section) else copy.deepcopy(value)
        return out

    @classmethod
    def load(cls, name_or_path: str | Path, overrides: list[str] | None = None) -> "Recipe":
        """:func:`load_recipe`, parsed."""
        return cls.parse(load_recipe(name_or_path, overrides))

    @property
    def scored_task_names(self) -> list[str]:
        """Names of the tasks that are scored (not ``auxiliary``)."""
        return [t["name"] for t in self.tasks if not t.get("auxiliary")]


def as_recipe(recipe: "Recipe | Mapping[str, Any]") -> Recipe:
    """A :class:`Recipe` from a parsed recipe or a (resolved) recipe mapping."""
    return recipe if isinstance(recipe, Recipe) else Recipe.parse(recipe)


def as_dict(recipe: "Recipe | Mapping[str, Any]") -> dict[str, Any]:
    """The plain mapping of a recipe (see :meth:`Recipe.to_dict`)."""
    return recipe.to_dict() if isinstance(recipe, Recipe) else dict(recipe)


def _type_names(types: tuple[type, ...]) -> str:
    return " or ".join("null" if t is type(None) else t.__name__ for t in types)


def _check(value: Any, types: tuple[type, ...], where: str) -> None:
    if isinstance(value, bool) and bool not in types:
        raise ConfigError(f"{where}: expected {_type_names(types)}, got a boolean ({value!r})")
    if not isinstance(value, types):
        raise ConfigError(f"{where}: expected {_type_names(types)}, got {type(value).__name__} ({value!r})")


def validate_recipe(recipe: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` naming the dotted path of the first unknown key, wrong type or value
    (:func:`check_complete` checks that nothing required is missing)."""
    for key, value in recipe.items():
        if key not in TOP_LEVEL:
            raise ConfigError(f"{key}: unknown recipe section; valid sections: {sorted(TOP_LEVEL)}")
        _check(value, TOP_LEVEL[key], key)
    if "name" in recipe:
        check_plain_name(recipe["name"], "name")
    for key, section in SECTIONS.items():
        section.parse(recipe.get(key))
    check_weighting_section(recipe.get("weighting", {}), "weighting")
    for name, entry in (recipe.get("compare", {}).get("params") or {}).items():
        _check(entry, (dict,), f"compare.params.{name}")
        check_weighting_section(entry, f"compare.params.{name}")
    _check_inputs(recipe.get("inputs", {}))
    check_tuned_on(recipe.get("tuned_on"))
    for name, entry in recipe.get("features", {}).items():
        _check(entry, (dict,), f"features.{name}")
        if "kind" not in entry:
            raise ConfigError(f"features.{name}.kind: every feature needs a kind")


def check_tuned_on(section: Any) -> None:
    """``tuned_on: {corpora: [names], speakers: [ids]}``: what ``emomtl tune`` searched on."""
    if section is None:
        return
    for key, value in section.items():
        if key not in ("corpora", "speakers"):
            raise ConfigError(f"tuned_on.{key}: unknown key; valid keys: ['corpora', 'speakers']")
        if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
            raise ConfigError(f"tuned_on.{key}: must be a list of names, got {value!r}")


def check_plain_name(value: str, where: str) -> None:
    """A name that becomes a folder (``<output.dir>/<name>-<command>``): one path component, never ``..``."""
    if not value or value in (".", "..") or "/" in value or "\\" in value or "\0" in value or value.startswith(".."):
        raise ConfigError(f"{where}: {value!r} must be a plain name (no '/', '\\' or leading '..'); "
                          "it names the run folder inside output.dir")


def check_complete(recipe: Mapping[str, Any]) -> None:
    """The settings a runnable recipe cannot leave out."""
    model = recipe.get("model")
    if not isinstance(model, Mapping) or "name" not in model:
        raise ConfigError(f"model: a recipe needs a model section with a name, got {model!r}")
    tasks = recipe.get("tasks")
    if not isinstance(tasks, list) or not tasks:
        raise ConfigError("tasks: a recipe needs a list of at least one task")
    for index, task in enumerate(tasks):
        if not isinstance(task, Mapping) or not isinstance(task.get("name"), str):
            raise ConfigError(f"tasks.{index}: expected a mapping with a name (e.g. {{name: emotion, kind: "
                              f"classification}}), got {task!r}")


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"model.dropout=0.2"`` -> (["model", "dropout"], 0.2); values are parsed as YAML."""
    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected KEY.PATH=VALUE")
    key, raw = text.split("=", 1)
    path = [part for part in key.strip().split(".") if part]
    if not path:
        raise ConfigError(f"override {text!r}: empty key")
    try:
        value = read_yaml(raw) if raw.strip() else None
    except yaml.YAMLError as error:
        raise ConfigError(f"override {text!r}: value is not valid YAML ({error})") from error
    return path, value


def apply_overrides(recipe: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``recipe`` with each ``a.b.c=value`` override set (creating mappings as needed).

    A list element is addressed by its index: ``tasks.0.label_smoothing=0.1``. A ``weighting.name=`` override is
    applied first, so the new strategy's parameters given beside it survive in any order.
    """
    recipe = copy.deepcopy(recipe)
    parsed = [(text, *parse_override(text)) for text in overrides]
    parsed.sort(key=lambda item: item[1] != ["weighting", "name"])  # stable: the rest keep their order
    for text, path, value in parsed:
        node: Any = recipe
        for i, part in enumerate(path):
            where = ".".join(path[: i + 1])
            if isinstance(node, list):
                if not part.lstrip("-").isdigit() or not -len(node) <= int(part) < len(node):
                    raise ConfigError(f"override {text!r}: {where} is not an index of a list of {len(node)}")
                key: Any = int(part)
            elif isinstance(node, dict):
                key = part
            else:
                raise ConfigError(f"override {text!r}: {'.'.join(path[:i])} is not a mapping or a list")
            if i == len(path) - 1:
                if path == ["weighting", "name"] and isinstance(node, dict):
                    node = _switch_weighting(recipe, value)
                node[key] = value
            else:
                if isinstance(node, dict) and node.get(key) is None:
                    node[key] = {}
                node = node[key]
    return recipe


def _switch_weighting(recipe: dict[str, Any], name: Any) -> dict[str, Any]:
    """``weighting.name=<other>``: the previous strategy's own parameters (e.g. DWA's ``T``) are dropped; the shared
    settings (``WEIGHTING_KEYS``) stay, ``precision_factor`` only for a strategy that takes it."""
    section = recipe.get("weighting") or {}
    if section.get("name", "static") == name:
        return section
    kept = {k: v for k, v in section.items() if k in WEIGHTING_KEYS}
    if "precision_factor" in kept:
        from emomtl.weighting.registry import STRATEGIES, parameters

        if name not in STRATEGIES or "precision_factor" not in parameters(STRATEGIES[name]):
            kept.pop("precision_factor")
    recipe["weighting"] = kept
    return kept


#: The shipped recipes: ``emomtl/recipes`` inside the package (in a checkout a link to the repository's ``recipes/``).
PACKAGED_RECIPES = Path(__file__).resolve().parent / "recipes"


def recipe_search_path() -> list[Path]:
    """Folders searched for a recipe given by name: ``./recipes`` then the shipped recipes."""
    return [Path.cwd() / "recipes", PACKAGED_RECIPES]


def find_recipe(name_or_path: str | Path) -> Path:
    """Resolve a recipe path, or a bare name such as ``quickstart``."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    for folder in recipe_search_path():
        for candidate in (folder / f"{name_or_path}.yaml", folder / str(name_or_path)):
            if candidate.is_file():
                return candidate
    raise ConfigError(f"recipe {str(name_or_path)!r} not found (looked in {[str(p) for p in recipe_search_path()]})")


def load_recipe(name_or_path: str | Path, overrides: list[str] | None = None) -> dict[str, Any]:
    """Read a recipe, apply overrides, fill defaults and validate; returns the resolved mapping
    (:meth:`Recipe.to_dict`; :func:`as_recipe` gives the typed sections)."""
    path = find_recipe(name_or_path)
    try:
        raw = read_yaml(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a recipe must be a mapping of sections")
    recipe = resolve_recipe(raw, overrides)
    recipe.setdefault("name", path.stem)
    return recipe


def parse_recipe(raw: Mapping[str, Any], overrides: list[str] | None = None) -> Recipe:
    """Validate a raw mapping, apply overrides and parse it (defaults fill the rest)."""
    validate_recipe(raw)
    recipe = apply_overrides(dict(raw), overrides or [])
    check_complete(recipe)
    return Recipe.parse(recipe)


def resolve_recipe(raw: Mapping[str, Any], overrides: list[str] | None = None) -> dict[str, Any]:
    """Validate a raw mapping, apply overrides and fill defaults; the plain mapping of :func:`parse_recipe`."""
    return parse_recipe(raw, overrides).to_dict()


def save_recipe(recipe: dict[str, Any], path: Path) -> None:
    """Write the resolved recipe next to a run's results (atomically)."""
    from emomtl.runtime.files import write_yaml

    write_yaml(path, recipe)
