"""``describe`` and the ``emomtl data`` commands on a small EMO-DB-named tree."""

from __future__ import annotations

import argparse
import json

import pandas as pd
import pytest

from emomtl.cli import data as data_cli
from emomtl.data.describe import describe
from emomtl.errors import ConfigError

FILES = {  # name -> seconds
    "03a01Fa.wav": 0.5, "03a02Wb.wav": 0.25, "08a01Ta.wav": 0.5, "09b02Nc.wav": 0.25,
    "10a04La.wav": 0.5, "13b01Ea.wav": 0.25, "16a05Aa.wav": 0.5,
}


@pytest.fixture
def emodb_tree(tmp_path, wav, touch):
    for name, seconds in FILES.items():
        wav(tmp_path / "wav" / name, seconds)
    touch(tmp_path / "wav" / "11a01Wa.wav", b"broken")
    return tmp_path


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="emomtl")
    data_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


def test_describe_counts_files_duration_speakers_labels_and_skips(emodb_tree):
    summary = describe("emodb", emodb_tree)
    assert summary["files"] == 7 and summary["speakers"] == 6
    assert summary["total_duration_s"] == pytest.approx(2.75)
    assert summary["labels"]["emotion"] == {"anger": 1, "boredom": 1, "disgust": 1, "fear": 1, "happiness": 1,
                                            "neutral": 1, "sadness": 1}
    assert summary["labels"]["gender"] == {"female": 4, "male": 3}
    assert summary["numeric"]["age"]["count"] == 7
    assert summary["skipped_count"] == 1 and summary["skipped"][0]["path"].endswith("11a01Wa.wav")
    assert summary["files_per_speaker"]["03"] == 2
    unchecked = describe("emodb", emodb_tree, check_audio=False)
    assert unchecked["files"] == 8 and unchecked["total_duration_s"] is None


def test_cli_describe_json(emodb_tree, capsys):
    assert run(["data", "describe", "--corpus", "emodb", "--root", str(emodb_tree), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["corpus"], summary["files"], summary["speakers"]) == ("emodb", 7, 6)


def test_cli_describe_pretty_lists_labels_and_skipped(emodb_tree, capsys):
    assert run(["data", "describe", "--corpus", "emodb", "--root", str(emodb_tree)]) == 0
    out = capsys.readouterr().out
    assert "files: 7" in out and "boredom" in out and "11a01Wa.wav" in out


def test_cli_manifest_writes_the_table(emodb_tree, tmp_path, capsys):
    output = tmp_path / "out" / "emodb.csv"
    assert run(["data", "manifest", "--corpus", "emodb", "--root", str(emodb_tree), "-o", str(output),
                "--label-map", "shared4"]) == 0
    table = pd.read_csv(output, dtype={"speaker": str})
    assert sorted(table["emotion"]) == ["anger", "happiness", "neutral", "sadness"]
    assert "03" in set(table["speaker"])
    assert "wrote 4 row(s)" in capsys.readouterr().err


def test_cli_manifest_never_writes_over_its_input_manifest(tmp_path, capsys):
    manifest = tmp_path / "labels.csv"
    manifest.write_text("path,speaker,emotion\n")
    with pytest.raises(ConfigError, match="is one of the inputs"):
        run(["data", "manifest", "--corpus", "manifest", "--root", str(manifest), "-o", str(manifest)])
    assert manifest.read_text() == "path,speaker,emotion\n"


def test_cli_splits_json_and_table(emodb_tree, capsys):
    assert run(["data", "splits", "--corpus", "emodb", "--root", str(emodb_tree), "--protocol", "loso",
                "--seed", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["splits"]) == 6
    for split in result["splits"]:
        assert not set(split["train_speakers"]) & set(split["test_speakers"])
        assert split["train"] + split["validation"] + split["test"] == 7
    assert run(["data", "splits", "--corpus", "emodb", "--root", str(emodb_tree), "--protocol", "speaker_kfold",
                "-P", "folds=3"]) == 0
    assert "fold3" in capsys.readouterr().out


def test_cli_options_are_parsed_as_yaml():
    assert data_cli.parse_options(["four_class=true", "sessions=[1, 2]", "name=x"], "-O") == {
        "four_class": True, "sessions": [1, 2], "name": "x"}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        data_cli.parse_options(["four_class"], "-O")


def test_cli_list(capsys):
    assert run(["data", "list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert "turev-db" in listing["corpora"] and "loso" in listing["protocols"] and "shared4" in listing["label_maps"]
