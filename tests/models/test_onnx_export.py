"""Every registered architecture exports to ONNX and onnxruntime matches torch, or it is listed as not exportable."""

from __future__ import annotations

import numpy as np
import pytest
import torch

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from emomtl.errors import ConfigError  # noqa: E402
from emomtl.export.onnx import NOT_EXPORTABLE, ProbabilityGraph, export_module  # noqa: E402
from emomtl.models import available_models, build_model  # noqa: E402

from model_cases import SMALL, make_tasks, random_inputs  # noqa: E402

CASES = {**SMALL,
         "linear_svm": ({"name": "linear_svm", "inputs": ["functionals"]}, {"functionals": (88,)}),
         "linear_probe": ({"name": "linear_probe", "inputs": ["functionals"]}, {"functionals": (88,)})}
EXPORTABLE = sorted(set(CASES) - set(NOT_EXPORTABLE))


def test_every_registered_architecture_is_either_exported_here_or_listed_with_a_reason():
    assert set(available_models()) == set(CASES)
    assert set(NOT_EXPORTABLE) == {"wave_av_lstm"} and all(len(r) > 20 for r in NOT_EXPORTABLE.values())


def _build(name):
    config, shapes = CASES[name]
    torch.manual_seed(0)
    model = build_model(config, make_tasks(), shapes).eval()
    if name.startswith("linear_"):  # fitted in closed form: give the zero-initialised maps some weights
        with torch.no_grad():
            for layer in model.linear.values():
                layer.weight.normal_(0, 0.1)
    return model, {k: shapes[k] for k in model.input_keys}


@pytest.mark.parametrize("name", EXPORTABLE)
def test_onnxruntime_matches_torch_for_any_batch_size(name, tmp_path):
    model, shapes = _build(name)
    path = export_module(model, make_tasks(), random_inputs(shapes, batch=2), tmp_path / "m.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = random_inputs(shapes, batch=5, seed=1)  # another batch size than the export's example
    got = session.run(None, {k: v.numpy() for k, v in inputs.items()})
    with torch.no_grad():
        expected = ProbabilityGraph(model, list(shapes), make_tasks())(*inputs.values())
    for task, value, reference in zip(make_tasks(), got, expected):
        assert value.shape == tuple(reference.shape), task.name
        np.testing.assert_allclose(value, reference.numpy(), atol=1e-4, err_msg=task.name)
    np.testing.assert_allclose(got[0].sum(1), 1.0, atol=1e-5)  # probabilities, not logits


def test_unexportable_architecture_raises_a_config_error_naming_the_reason(tmp_path):
    model, shapes = _build("wave_av_lstm")
    with pytest.raises(ConfigError, match="complex"):
        export_module(model, make_tasks(), random_inputs(shapes, batch=2), tmp_path / "m.onnx")


@pytest.mark.parametrize("name", ["multi_exit_cnn", "cnn_blstm_att"])
def test_a_variable_time_axis_runs_at_other_lengths_or_the_export_is_refused(name, tmp_path):
    from emomtl.export.onnx import check_dynamic_axes

    model, shapes = _build(name)
    dynamic = {"logmel": [2]}
    path = export_module(model, make_tasks(), random_inputs(shapes, batch=2), tmp_path / "m.onnx", dynamic)
    dtypes = {key: "float32" for key in shapes}
    if name == "cnn_blstm_att":  # torch's exporter fixes the LSTM's output length inside the graph
        with pytest.raises(ConfigError, match="only runs at the example's length on 'logmel'"):
            check_dynamic_axes(path, shapes, dtypes, dynamic)
        assert not path.exists()
        return
    check_dynamic_axes(path, shapes, dtypes, dynamic)
    longer = {**shapes, "logmel": (shapes["logmel"][0], shapes["logmel"][1] + 9)}
    inputs = random_inputs(longer, batch=3, seed=1)
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {k: v.numpy() for k, v in inputs.items()})
    with torch.no_grad():
        expected = ProbabilityGraph(model, list(shapes), make_tasks())(*inputs.values())
    for value, reference in zip(got, expected):
        np.testing.assert_allclose(value, reference.numpy(), atol=1e-4)
