"""Registry, parameter validation and the ``emomtl weighting list`` command."""

from __future__ import annotations

import argparse
import json

import pytest

from emomtl.cli import weighting as weighting_cli
from emomtl.errors import ConfigError
from emomtl.weighting import STRATEGIES, WeightingStrategy, available, create

EXPECTED = {"static", "ew", "softmax", "uw", "ruw", "rruw", "dwa", "druw", "gradnorm", "pcgrad", "mgda", "famo", "gcs"}


def test_every_issue_strategy_is_registered():
    assert EXPECTED <= set(available())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_create_returns_a_module_with_the_documented_attributes(name):
    strategy = create(name, ["emotion", "gender"])
    assert isinstance(strategy, WeightingStrategy)
    assert strategy.name == name
    assert strategy.kind in ("loss", "gradient")
    assert isinstance(strategy.ddp_safe, bool)
    assert strategy.needs_shared_parameters == (strategy.kind == "gradient")
    assert strategy.summary and "\n" not in strategy.summary
    assert "Source" in type(strategy).__doc__ or name in ("static", "ew"), "docstring must cite its source"


def test_contract_call_from_the_issue():
    strategy = create("druw", ["emotion", "gender"], T=10, phi=1.0)
    assert strategy.descent.temperature == 10 and strategy.phi == 1.0


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ConfigError) as error:
        create("uncertainty", ["a", "b"])
    for name in EXPECTED:
        assert name in str(error.value)


def test_unknown_parameter_lists_the_valid_ones():
    with pytest.raises(ConfigError) as error:
        create("dwa", ["a", "b"], temperature=2)
    assert "'T'" in str(error.value) and "'period'" in str(error.value)


@pytest.mark.parametrize(
    "name, params",
    [
        ("static", {"weights": [1.0]}),
        ("static", {"weights": {"a": 1.0, "c": 1.0}}),
        ("static", {"weights": [1.0, -1.0]}),
        ("softmax", {"temperature": 0}),
        ("softmax", {"entropy_weight": -1}),
        ("uw", {"task_kinds": {"a": "ordinal"}}),
        ("uw", {"init_log_var": {"a": 0.0}}),
        ("uw", {"log_var_bounds": (3, 1)}),
        ("ruw", {"regularizer": "log1plog"}),
        ("rruw", {"phi": -1}),
        ("dwa", {"T": 0}),
        ("dwa", {"period": "batch"}),
        ("dwa", {"period": 0}),
        ("druw", {"period": -3}),
        ("gradnorm", {"alpha": -1}),
        ("pcgrad", {"reduction": "max"}),
        ("mgda", {"normalization": "l1"}),
        ("famo", {"w_lr": 0}),
    ],
)
def test_bad_parameter_values_raise_config_error(name, params):
    with pytest.raises(ConfigError):
        create(name, ["a", "b"], **params)


@pytest.mark.parametrize("task_names", [[], ["a", "a"], ["a", ""]])
def test_bad_task_lists_raise_config_error(task_names):
    with pytest.raises(ConfigError):
        create("static", task_names)


def _run_cli(argv, capsys):
    parser = argparse.ArgumentParser(prog="emomtl")
    weighting_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code = args.handler(args)
    return code, capsys.readouterr().out


def test_cli_list_prints_one_row_per_strategy(capsys):
    code, out = _run_cli(["weighting", "list"], capsys)
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].split() == ["name", "kind", "ddp_safe", "description"]
    rows = {line.split()[0]: line.split() for line in lines[1:] if not line.startswith(" ")}
    assert set(rows) == set(STRATEGIES)
    assert rows["pcgrad"][1] == "gradient" and rows["uw"][1] == "loss"
    assert rows["mgda"][2] == str(STRATEGIES["mgda"].ddp_safe).lower()


def test_cli_list_json(capsys):
    code, out = _run_cli(["weighting", "list", "--json"], capsys)
    assert code == 0
    records = {r["name"]: r for r in json.loads(out)}
    assert set(records) == set(STRATEGIES)
    assert records["dwa"]["parameters"] == {"T": 2.0, "period": "epoch"}
    assert records["gradnorm"]["kind"] == "gradient"
    assert all(r["description"] for r in records.values())


def test_create_refuses_a_strategy_unsafe_under_data_parallel_training(monkeypatch):
    monkeypatch.setattr(STRATEGIES["pcgrad"], "ddp_safe", False)
    with pytest.raises(ConfigError, match="'pcgrad' is not safe under data-parallel training"):
        create("pcgrad", ["a", "b"], data_parallel=True)
    assert create("pcgrad", ["a", "b"]).name == "pcgrad"  # one process: allowed
