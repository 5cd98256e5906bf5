"""Late fusion of finished runs (``emomtl fuse``): averaged probabilities per (fold, seed), scored like an arm."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emomtl.cli.main import main
from emomtl.evaluation.fusion import Member, fuse, summary

CLASSES = ["anger", "sadness"]


def fake_run(root: Path, arm: str, probabilities: dict[str, np.ndarray], seconds: float = 10.0) -> Path:
    """A run folder with one arm; ``probabilities[fold]`` is (rows, 2) for rows whose truth alternates."""
    rows = []
    for fold, probs in probabilities.items():
        truth = np.array(CLASSES * (len(probs) // 2))
        table = pd.DataFrame({"path": [f"/{fold}/{i}.wav" for i in range(len(probs))], "speaker": fold,
                              "emotion.true": truth, "emotion.pred": np.array(CLASSES)[probs.argmax(1)]})
        for j, c in enumerate(CLASSES):
            table[f"emotion.prob.{c}"] = probs[:, j]
        folder = root / "runs" / arm / f"{fold}_seed0"
        folder.mkdir(parents=True)
        table.to_csv(folder / "predictions.csv", index=False)
        rows.append({"strategy": arm, "fold": fold, "seed": 0, "wall_time_s": seconds})
    pd.DataFrame(rows).to_csv(root / "results.csv", index=False)
    return root


def test_fusion_averages_probabilities_and_can_beat_each_member(tmp_path, capsys):
    # each member misses one row (UA 0.75 each); their averaged probabilities are right everywhere
    a = {"f1": np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.45, 0.55]])}
    b = {"f1": np.array([[0.4, 0.6], [0.45, 0.55], [0.9, 0.1], [0.2, 0.8]])}
    run_a, run_b = fake_run(tmp_path / "a", "static", a), fake_run(tmp_path / "b", "druw", b, 5.0)
    per_run, fused = fuse([Member.parse(str(run_a)), Member.parse(f"{run_b}:druw")])
    np.testing.assert_allclose(fused[["emotion.prob.anger", "emotion.prob.sadness"]].to_numpy(),
                               (a["f1"] + b["f1"]) / 2)
    assert per_run["emotion.ua"].tolist() == [1.0]
    assert main(["fuse", str(run_a), f"{run_b}:druw", "--out", str(tmp_path / "fused")]) == 0
    out = capsys.readouterr().out
    assert "UA 100.0 %" in out and "training cost 15 s" in out
    stored = json.loads((tmp_path / "fused" / "fusion.json").read_text())
    assert stored["fused_ua"] == 1.0 and stored["members_ua"][f"{run_a}:static"] == 0.75


def test_members_must_name_an_existing_arm_and_share_runs(tmp_path):
    run_a = fake_run(tmp_path / "a", "static", {"f1": np.eye(2)})
    run_b = fake_run(tmp_path / "b", "static", {"f2": np.eye(2)})
    with pytest.raises(ValueError, match="no arm 'uw'"):
        Member.parse(f"{run_a}:uw")
    with pytest.raises(ValueError, match="share no"):
        fuse([Member.parse(str(run_a)), Member.parse(str(run_b))])
    assert main(["fuse", str(run_a)]) == 2  # one member is not a fusion


def test_fuse_never_writes_into_a_members_run_folder(tmp_path, capsys):
    run_a = fake_run(tmp_path / "a", "static", {"f1": np.eye(2)})
    run_b = fake_run(tmp_path / "b", "druw", {"f1": np.eye(2)})
    before = (run_a / "results.csv").read_text()
    assert main(["fuse", str(run_a), str(run_b), "--out", str(run_a)]) == 2
    assert "which is an input" in capsys.readouterr().err
    assert (run_a / "results.csv").read_text() == before


def test_zero_padded_class_codes_survive_the_csv_round_trip(tmp_path):
    from emomtl.evaluation.aggregate import pooled_metrics, read_predictions

    table = pd.DataFrame({"path": ["a", "b", "c", "d"], "speaker": ["03", "03", "08", "08"],
                          "spk.true": ["01", "02", "03", "01"], "spk.pred": ["01", "02", "03", "03"],
                          **{f"spk.prob.{c}": [0.5, 0.25, 0.25, 0.25] for c in ("01", "02")},
                          "spk.prob.03": [0.0, 0.5, 0.5, 0.5],
                          "va.true": [0.1, 0.2, 0.3, 0.4], "va.pred": [0.1, 0.2, 0.3, 0.5]})
    table.to_csv(tmp_path / "predictions.csv", index=False)
    read = read_predictions(tmp_path / "predictions.csv")
    assert read["spk.true"].tolist() == ["01", "02", "03", "01"] and read["speaker"].tolist()[0] == "03"
    assert read["va.true"].dtype.kind == "f"  # a regression task stays numeric
    assert pooled_metrics(read, "spk", "classification", ["01", "02", "03"])["ua"] == pytest.approx(2.5 / 3)


def test_members_are_scored_and_costed_over_the_fused_runs_only(tmp_path):
    # member a has an extra fold f2 that b lacks: a alone is judged on f1 (UA 0.75), not on f1 + f2 (UA 0.875)
    a = {"f1": np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.45, 0.55]]),
         "f2": np.array([[0.9, 0.1], [0.2, 0.8], [0.9, 0.1], [0.2, 0.8]])}
    b = {"f1": np.array([[0.4, 0.6], [0.45, 0.55], [0.9, 0.1], [0.2, 0.8]])}
    run_a, run_b = fake_run(tmp_path / "a", "static", a, 10.0), fake_run(tmp_path / "b", "druw", b, 5.0)
    result = summary([Member.parse(str(run_a)), Member.parse(str(run_b))])
    assert result["runs_fused"] == 1
    assert result["members_ua"][f"{run_a}:static"] == 0.75
    assert result["training_seconds"] == 15.0  # a's f2 run is not part of the fusion's cost
