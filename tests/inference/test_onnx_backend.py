"""ONNX export of a trained checkpoint: onnxruntime reproduces the torch recognizer on demo-corpus files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from emomtl.cli.main import main  # noqa: E402
from emomtl.errors import ConfigError  # noqa: E402
from emomtl.export.locate import find_checkpoint  # noqa: E402
from emomtl.export.onnx import OPSET, export_checkpoint  # noqa: E402
from emomtl.inference import Recognizer  # noqa: E402


@pytest.fixture(scope="module")
def exported(plain: tuple[Path, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> Path:
    checkpoint, _ = plain
    return export_checkpoint(checkpoint, tmp_path_factory.mktemp("onnx")).parent


def test_export_writes_graph_and_spec_with_labels_and_statistics(exported, plain):
    import onnx

    graph = onnx.load(str(exported / "model.onnx"))
    assert max(op.version for op in graph.opset_import if op.domain in ("", "ai.onnx")) >= 17
    assert [i.name for i in graph.graph.input] == ["logmel"]
    spec = json.loads((exported / "model.json").read_text())
    tasks = {t["name"]: t for t in spec["tasks"]}
    assert set(tasks) == {"emotion", "gender", "va"} == {o.name for o in graph.graph.output}
    assert spec["labels"]["gender"] == tasks["gender"]["classes"] == ["female", "male"]
    assert spec["inputs"]["logmel"]["shape"] == [16, 40]
    assert len(spec["standardizer"]["mean"]["logmel"]) == 16
    assert spec["opset"] == OPSET


def test_onnxruntime_outputs_match_torch_on_demo_files(exported, plain):
    checkpoint, table = plain
    files = list(table["path"][:6])
    torch_table = Recognizer.from_checkpoint(checkpoint).process_files(files)
    onnx_table = Recognizer.from_onnx(exported).process_files(files)
    numeric = [c for c in torch_table.columns if c not in ("emotion", "gender", "error", "warning")]
    assert len(numeric) == 2 + 4 + 2 and onnx_table[numeric].notna().all().all()
    np.testing.assert_allclose(onnx_table[numeric].to_numpy(float), torch_table[numeric].to_numpy(float), atol=1e-4)
    assert (onnx_table["emotion"] == torch_table["emotion"]).all()


def test_predict_cli_backend_onnxruntime_equals_torch(exported, plain, tmp_path):
    checkpoint, table = plain
    audio = table["path"].iloc[0]
    assert main(["predict", str(checkpoint), audio, "-o", str(tmp_path / "t.csv"), "--quiet"]) == 0
    assert main(["predict", str(exported), audio, "-o", str(tmp_path / "o.csv"), "--quiet",
                 "--backend", "onnxruntime"]) == 0
    torch_csv, onnx_csv = pd.read_csv(tmp_path / "t.csv"), pd.read_csv(tmp_path / "o.csv")
    assert list(onnx_csv.columns) == list(torch_csv.columns)
    np.testing.assert_allclose(onnx_csv["emotion.prob.anger"], torch_csv["emotion.prob.anger"], atol=1e-4)


def test_export_cli_and_run_selection(plain, tmp_path):
    checkpoint, _ = plain
    out = tmp_path / "exported"
    assert main(["export", str(checkpoint.parent), "--format", "onnx", "-o", str(out)]) == 0
    assert (out / "model.onnx").is_file() and (out / "model.json").is_file()
    compare = tmp_path / "compare"
    for run in ("uw/fold0_seed0", "ew/fold0_seed0"):
        (compare / "runs" / run).mkdir(parents=True)
        (compare / "runs" / run / "checkpoint_best.pt").write_bytes(b"")
    with pytest.raises(ConfigError, match="ew/fold0_seed0, uw/fold0_seed0"):
        find_checkpoint(compare)
    assert find_checkpoint(compare, run="uw/fold0_seed0") == compare / "runs/uw/fold0_seed0/checkpoint_best.pt"
    assert main(["predict", str(checkpoint), str(checkpoint), "--backend", "onnxruntime", "--quiet"]) == 2


def test_onnx_recognizer_never_calls_the_torch_model_path(exported, plain, monkeypatch):
    import emomtl.inference.recognizer as recognizer_module

    def refuse(*args, **kwargs):
        raise AssertionError("the torch prediction path ran")

    monkeypatch.setattr(recognizer_module, "predict_outputs", refuse)
    table = Recognizer.from_onnx(exported / "model.onnx", threads=1).process_files(list(plain[1]["path"][:2]))
    assert table["error"].isna().all() and table["emotion"].notna().all()


def test_per_speaker_standardisation_and_serve_loading_work_with_an_export(speaker, tmp_path):
    from emomtl.inference.onnx_backend import OnnxMember
    from emomtl.serve.app import load_recognizer

    checkpoint, table = speaker
    exported = export_checkpoint(checkpoint, tmp_path / "speaker").parent
    rows = table.groupby("speaker").head(2).iloc[:4]
    files, speakers = list(rows["path"]), list(rows["speaker"])
    expected = Recognizer.from_checkpoint(checkpoint).process_files(files, speakers=speakers)
    got = load_recognizer(exported).process_files(files, speakers=speakers)
    assert isinstance(load_recognizer(exported).members[0], OnnxMember)
    numeric = [c for c in expected.columns if ".prob." in c or c.startswith("va.")]
    np.testing.assert_allclose(got[numeric].to_numpy(float), expected[numeric].to_numpy(float), atol=1e-4)
