"""``emomtl predict``: --workers, repeated --checkpoint (ensemble), --speakers CSV and --speaker-from-dir."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emomtl.cli.main import main
from emomtl.inference import Recognizer


def read_json(path: Path) -> pd.DataFrame:
    return pd.DataFrame(json.loads(path.read_text())).set_index("file")


def speaker_files(table: pd.DataFrame, per_speaker: int = 2) -> pd.DataFrame:
    return table.groupby("speaker").head(per_speaker)


def test_help_documents_the_new_options(capsys):
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    text = capsys.readouterr().out
    for option in ("--workers", "--checkpoint", "--speakers", "--speaker-from-dir", "file,speaker"):
        assert option in text


def test_single_form_with_workers_matches_the_api(plain, tmp_path):
    checkpoint, table = plain
    files = table["path"].iloc[:4].tolist()
    out = tmp_path / "out.json"
    assert main(["predict", str(checkpoint.parent), *files, "--workers", "2", "-o", str(out), "--quiet"]) == 0
    rows = read_json(out)
    expected = Recognizer.from_checkpoint(checkpoint).process_files(files)
    assert list(rows.index) == files and rows["error"].isna().all()
    np.testing.assert_allclose(rows["emotion.prob.anger"], expected["emotion.prob.anger"], atol=1e-6)


def test_repeated_checkpoint_is_an_ensemble(plain, speaker, tmp_path, capsys):
    chosen = speaker_files(plain[1])
    files = chosen["path"].tolist()
    out = tmp_path / "ensemble.json"
    code = main(["predict", "--checkpoint", str(plain[0]), "--checkpoint", str(speaker[0].parent), *files,
                 "--speaker-from-dir", "-o", str(out), "--quiet"])
    assert code == 0
    cost = capsys.readouterr().err  # what the ensemble cost is reported
    assert f"{len(files)} file(s), 2 model(s) (an ensemble" in cost and "files/s" in cost
    rows = read_json(out)
    expected = Recognizer.from_checkpoints([plain[0], speaker[0]]).process_files(
        files, speakers=[Path(f).parent.name for f in files])
    np.testing.assert_allclose(rows[["va.valence", "va.arousal"]], expected[["va.valence", "va.arousal"]], atol=1e-6)
    assert rows["emotion"].tolist() == expected["emotion"].tolist()


def test_speakers_csv_by_path_or_base_name(speaker, tmp_path, caplog):
    checkpoint, table = speaker
    chosen = speaker_files(table, 3)
    files = chosen["path"].tolist()
    names = [Path(f).name if i % 2 else f for i, f in enumerate(files)]  # half by base name, half by path
    csv = tmp_path / "speakers.csv"
    pd.DataFrame({"file": names, "speaker": chosen["speaker"]}).to_csv(csv, index=False)
    out = tmp_path / "by_csv.json"
    with caplog.at_level(logging.WARNING):
        assert main(["predict", str(checkpoint), *files, "--speakers", str(csv), "-o", str(out), "--quiet"]) == 0
    assert "no speakers were given" not in caplog.text
    rows = read_json(out)
    expected = Recognizer.from_checkpoint(checkpoint).process_files(files, speakers=chosen["speaker"].tolist())
    np.testing.assert_allclose(rows.filter(like="emotion.prob."), expected.filter(like="emotion.prob."), atol=1e-6)


def test_speakers_csv_needs_its_columns(speaker, tmp_path, capsys):
    csv = tmp_path / "speakers.csv"
    csv.write_text("path,who\na.wav,x\n")
    code = main(["predict", str(speaker[0]), speaker[1]["path"].iloc[0], "--speakers", str(csv), "--quiet"])
    assert code == 2 and "file,speaker" in capsys.readouterr().err


def test_checkpoint_without_inputs_is_refused(plain, capsys):
    assert main(["predict", str(plain[0])]) == 2
    assert "at least one audio file" in capsys.readouterr().err
