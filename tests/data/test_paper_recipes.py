"""Every paper's recipe runs by name on a tiny generated corpus in the corpus's published layout (issue 16).

The recipes keep the papers' settings; the overrides here only shrink the model, the inputs and the schedule.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from emomtl.cli.main import main

#: Shared by every run: one seed, one epoch, no report, the feature cache inside the test folder.
QUICK = ["train.epochs=1", "train.seeds=[0]", "train.batch_size=8", "train.early_stopping=null",
         "train.tensorboard=false", "train.num_workers=1"]
TINY_CNN_BLSTM = ["model.conv_channels=[8,8,8]", "model.bottleneck=8", "model.lstm_hidden=8", "model.lstm_layers=1",
                  "model.attention_heads=2", "inputs.logmel.length=16"]


def run_recipe(command: str, name: str, out: Path, overrides: list[str]) -> pd.DataFrame:
    """``emomtl <command> <name> ...`` through the CLI; returns its results table."""
    cache = f"data.cache_dir={out.parent / 'cache'}"
    code = main([command, name, "--out", str(out), "--quiet", "--no-report", *QUICK, cache, *overrides])
    assert code == 0
    return pd.read_csv(out / "results.csv")


def splits_of(out: Path) -> list[dict]:
    return json.loads((out / "splits.json").read_text())


# ------------------------------------------------------------------ CNN-BLSTM (SAVEE, SAVEE + EMO-DB)
SAVEE_CODES = ("a", "d", "f", "h", "n", "sa", "su")
EMODB_LETTERS = ("W", "E", "A", "F", "N", "T", "L")  # anger, disgust, fear, happiness, neutral, sadness, boredom


def savee_tree(root: Path, wav) -> Path:
    """``AudioData/<speaker>/<code><nn>.wav``, two takes of each of the 7 emotions per speaker, at 44.1 kHz."""
    for speaker in ("DC", "JE", "JK", "KL"):
        for code in SAVEE_CODES:
            for take in (1, 2):
                wav(root / "AudioData" / speaker / f"{code}{take:02d}.wav", 0.4, sample_rate=44100)
    return root


def emodb_tree(root: Path, wav) -> Path:
    """``wav/<speaker><text><emotion><version>.wav`` (e.g. ``03a01Wa.wav``) for three speakers."""
    for speaker in ("03", "08", "09"):
        for letter in EMODB_LETTERS:
            wav(root / "wav" / f"{speaker}a01{letter}a.wav", 0.4)
    return root


def test_savee_cnn_blstm_recipe_runs_by_name_with_loso_over_the_four_speakers(tmp_path, wav):
    root = savee_tree(tmp_path / "SAVEE", wav)
    out = tmp_path / "run"
    results = run_recipe("cv", "savee_cnn_blstm", out, [f"data.root={root}", *TINY_CNN_BLSTM])
    assert sorted(results["test_speakers"]) == ["DC", "JE", "JK", "KL"]
    assert results["emotion.ua"].between(0, 1).all()


def test_savee_emodb_recipe_pools_six_labels_and_tests_only_savee_speakers(tmp_path, wav):
    savee, emodb = savee_tree(tmp_path / "SAVEE", wav), emodb_tree(tmp_path / "emodb", wav)
    out = tmp_path / "run"
    results = run_recipe("cv", "savee_emodb_cnn_blstm", out,
                         [f"data.corpora.0.root={savee}", f"data.corpora.1.root={emodb}", *TINY_CNN_BLSTM])
    splits = splits_of(out)
    assert [s["test"] for s in splits] == ["savee:DC", "savee:JE", "savee:JK", "savee:KL"]
    emodb_speakers = {"emodb:03", "emodb:08", "emodb:09"}
    for split in splits:
        parts = {part: set(split[part].split()) for part in ("train", "validation", "test")}
        assert not parts["train"] & parts["validation"] and not parts["train"] & parts["test"]
        assert not parts["validation"] & parts["test"]
        assert emodb_speakers <= parts["train"] | parts["validation"]
        # 6 shared labels x 2 takes per SAVEE speaker (surprise dropped), 6 per EMO-DB speaker (boredom dropped)
        assert sum(split["sizes"]) == 4 * 12 + 3 * 6
    predictions = pd.read_csv(next((out / "runs").glob("static/*/predictions.csv")))
    assert set(predictions["emotion.true"]) <= {"anger", "disgust", "fear", "happiness", "neutral", "sadness"}
    assert len(results) == 4 and results["emotion.ua"].between(0, 1).all()


# ------------------------------------------------------------------ DRUW (ExVo MultiTask)
EXVO_EMOTIONS = ("Awe", "Excitement", "Amusement", "Awkwardness", "Fear", "Horror", "Distress", "Triumph", "Sadness",
                 "Surprise")
EXVO_COUNTRIES = ("United States", "China", "South Africa", "Venezuela")
TINY_MULTI_EXIT = ["model.channels=[4,4,4,4,4]", "inputs.logmel.length=64", "train.batch_size=4"]


def exvo_tree(root: Path, wav) -> Path:
    """ExVo's ``data_info.csv`` (File_ID, Subject_ID, Split, Age, Country, Awe..Surprise) and ``wav/<id>.wav``."""
    rows, file_number = [], 0
    for subject, split in enumerate(["Train"] * 6 + ["Val"] * 3 + ["Test"] * 3):
        for _ in range(2):
            stem = f"{file_number:05d}"
            wav(root / "wav" / f"{stem}.wav", 0.7)
            intensities = [round(((file_number * 7 + k * 3) % 11) / 10, 1) for k in range(len(EXVO_EMOTIONS))]
            country = EXVO_COUNTRIES[subject % len(EXVO_COUNTRIES)]
            rows.append([f"[{stem}]", f"Speaker_{subject}", split, 20 + subject * 2, country, *intensities])
            file_number += 1
    columns = ["File_ID", "Subject_ID", "Split", "Age", "Country", *EXVO_EMOTIONS]
    pd.DataFrame(rows, columns=columns).to_csv(root / "data_info.csv", index=False)
    return root


def test_druw_compare_runs_the_papers_table_plan_on_the_exvo_layout(tmp_path, wav):
    root = exvo_tree(tmp_path / "ExVo", wav)
    out = tmp_path / "run"
    results = run_recipe("compare", "druw", out, [f"data.root={root}", *TINY_MULTI_EXIT])
    assert list(results["strategy"]) == ["ew", "uw", "ruw", "rruw", "dwa", "druw",
                                         "single:emotion", "single:country", "single:age"]
    full = results.iloc[:6]
    assert (full[["weight.emotion", "weight.country", "weight.age"]].iloc[0] == 1.0).all()  # EW: weights of 1
    for column in ("emotion.ccc", "country.ua", "age.mae", "score"):
        assert full[column].notna().all()
    assert (full["score"] >= 0).all() and (full["age.mae"] > 0).all()
    config = (out / "config.yaml").read_text()
    assert "exit_block: 1" in config and "exit_block: 3" in config and "exit_block: 5" in config
    assert splits_of(out)[0]["sizes"] == [12, 6, 6]  # the data_info.csv Train / Val / Test split


def test_druw_exit_search_and_the_baseline_recipe_run_by_name(tmp_path, wav, capsys):
    root = exvo_tree(tmp_path / "ExVo", wav)
    cache = f"data.cache_dir={tmp_path / 'cache'}"
    code = main(["model", "search-exits", "druw", "--out", str(tmp_path / "search"),
                 "--candidates", "{age: [1, 2], country: [3], emotion: [5]}",
                 f"data.root={root}", *QUICK, cache, *TINY_MULTI_EXIT])
    assert code == 0
    assert "model.exits={emotion: 5, country: 3, age: " in capsys.readouterr().out
    results = run_recipe("cv", "exvo_baseline", tmp_path / "baseline", [f"data.root={root}", "model.hidden=[8]"])
    assert len(results) == 1 and results.loc[0, "weight.emotion"] == 1.0
    assert results.loc[0, ["emotion.ccc", "country.ua", "age.mae", "score"]].notna().all()


# ------------------------------------------------------------------ dynamic joint-loss weights (IEMOCAP, audio + video)
IEMOCAP_CODES = ("neu", "sad", "ang", "hap", "exc")
VIDEO_FPS, HALF_WIDTH, HEIGHT = 10.0, 64, 48
TINY_WAVE_AV = ["model.audio_filters=[8,10]", "model.channel_pool=5", "model.audio_kernel_ms=[5.0,100.0]",
                "model.resnet_depth=18", "model.resnet_width=4", "model.lstm_hidden=8", "model.lstm_layers=1",
                "features.video.fps=5", "features.video.size=32", "inputs.video.length=4",
                "inputs.waveform.length=4000"]


def write_dialog_video(path: Path, seconds: float) -> Path:
    """Both actors side by side (left and right halves, different greys) at 10 fps, MJPG like a small DivX."""
    import cv2
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), VIDEO_FPS, (2 * HALF_WIDTH, HEIGHT))
    assert writer.isOpened()
    for index in range(int(seconds * VIDEO_FPS)):
        frame = np.full((HEIGHT, 2 * HALF_WIDTH, 3), 40 + index % 50, np.uint8)
        frame[:, HALF_WIDTH:] += 120
        writer.write(frame)
    writer.release()
    return path


def iemocap_tree(root: Path, wav, sessions: int = 3, turns_per_actor: int = 4) -> Path:
    """``Session<n>/dialog/EmoEvaluation/<dialog>.txt``, ``sentences/wav/<dialog>/<turn>.wav`` and
    ``dialog/avi/DivX/<dialog>.avi`` for one improvised dialog per session, turns alternating between the actors."""
    for number in range(1, sessions + 1):
        session = root / f"Session{number}"
        dialog = f"Ses{number:02d}{'F' if number % 2 else 'M'}_impro01"
        lines, start = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""], 0.2
        for index in range(2 * turns_per_actor):
            actor, code = "FM"[index % 2], IEMOCAP_CODES[index % len(IEMOCAP_CODES)]
            turn = f"{dialog}_{actor}{index // 2:03d}"
            lines += [f"[{start:.4f} - {start + 0.8:.4f}]\t{turn}\t{code}\t[2.5000, 3.0000, 3.0000]",
                      "C-E1:\tNeutral;\t()", ""]
            wav(session / "sentences" / "wav" / dialog / f"{turn}.wav", 0.8)
            start += 1.0
        evaluation = session / "dialog" / "EmoEvaluation" / f"{dialog}.txt"
        evaluation.parent.mkdir(parents=True, exist_ok=True)
        evaluation.write_text("\n".join(lines))
        write_dialog_video(session / "dialog" / "avi" / "DivX" / f"{dialog}.avi", start + 0.5)
    return root


def test_dynamic_joint_loss_recipe_runs_by_name_on_the_iemocap_layout_with_video(tmp_path, wav):
    root = iemocap_tree(tmp_path / "IEMOCAP_full_release", wav)
    out = tmp_path / "run"
    results = run_recipe("compare", "dynamic_joint_loss", out, [f"data.root={root}", *TINY_WAVE_AV])
    assert list(results["strategy"]) == ["static", "softmax", "single:emotion", "single:gender"]
    assert results.loc[:1, ["emotion.ua", "gender.ua"]].notna().all().all()
    assert abs(results.loc[1, ["weight.emotion", "weight.gender"]].sum() - 1.0) < 1e-6  # softmax weights sum to 1
    split = splits_of(out)[0]
    assert sum(split["sizes"]) == 3 * 8  # every turn kept: each found its audio and its video segment
    parts = [set(split[part].split()) for part in ("train", "validation", "test")]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert not (out / "skipped.csv").exists()
