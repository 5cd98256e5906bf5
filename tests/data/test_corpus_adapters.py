"""Each adapter on a small generated tree named like the published corpus."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pandas as pd
import pytest

from emomtl.data.corpora import load_corpus
from emomtl.data.schema import COLUMNS, validate
from emomtl.errors import ConfigError, LabelError


def _names(table: pd.DataFrame) -> list[str]:
    return [Path(p).name for p in table["path"]]


def _check_schema(table: pd.DataFrame) -> None:
    validate(table)
    assert list(table.columns[: len(COLUMNS)]) == list(COLUMNS)
    assert all(isinstance(s, str) for s in table["speaker"])
    assert all(Path(p).is_absolute() for p in table["path"])
    assert set(table["gender"].dropna()) <= {"female", "male"}


def _skipped(loaded) -> dict[str, str]:
    return {Path(s.path).name: s.reason for s in loaded.skipped}


# ------------------------------------------------------------------ EMO-DB
def test_emodb_reads_speaker_text_emotion_and_gender(tmp_path, wav):
    for name in ("03a01Fa.wav", "08b02Wb.wav", "16a05Lc.wav", "11b10Nc.wav"):
        wav(tmp_path / "wav" / name)
    wav(tmp_path / "wav" / "09a01Xa.wav")  # unknown emotion letter
    wav(tmp_path / "wav" / "notes.wav")  # not an EMO-DB name
    loaded = load_corpus("emodb", tmp_path)
    table = loaded.table.set_index(loaded.table["path"].map(lambda p: Path(p).name))
    _check_schema(loaded.table)
    assert (table.loc["03a01Fa.wav", ["speaker", "gender", "emotion", "language"]].tolist()
            == ["03", "male", "happiness", "de"])
    assert table.loc["08b02Wb.wav", ["speaker", "gender", "emotion"]].tolist() == ["08", "female", "anger"]
    assert table.loc["16a05Lc.wav", "emotion"] == "boredom"
    assert table.loc["03a01Fa.wav", "text"] == "Der Lappen liegt auf dem Eisschrank."
    skipped = _skipped(loaded)
    assert "'X'" in skipped["09a01Xa.wav"] and "notes.wav" in skipped


# ---------------------------------------------------------------- TurEV-DB
def test_turev_reads_speaker_prefix_and_emotion_code(tmp_path, wav):
    wav(tmp_path / "Angry" / "1157_kz_acik.wav", sample_rate=44100)
    wav(tmp_path / "Calm" / "1234_sk_algi.wav", sample_rate=44100)
    wav(tmp_path / "Happy" / "6783_mt_beste.wav", sample_rate=44100)
    wav(tmp_path / "Sad" / "7895_hl_bugu.wav", sample_rate=44100)
    wav(tmp_path / "Sad" / "7895_qq_cay.wav", sample_rate=44100)  # unknown code
    wav(tmp_path / "Happy" / "1157_kz_deve.wav", sample_rate=44100)  # code disagrees with folder
    (tmp_path / "README.md").write_text("not audio")
    loaded = load_corpus("turev", tmp_path)
    table = loaded.table
    _check_schema(table)
    assert loaded.name == "turev-db"
    assert dict(zip(_names(table), table["emotion"])) == {
        "1157_kz_acik.wav": "anger", "1234_sk_algi.wav": "calm",
        "6783_mt_beste.wav": "happiness", "7895_hl_bugu.wav": "sadness",
    }
    assert table["speaker"].tolist() == ["1157", "1234", "6783", "7895"]
    assert table["gender"].isna().all() and set(table["language"]) == {"tr"}
    skipped = _skipped(loaded)
    assert "'qq'" in skipped["7895_qq_cay.wav"] and "disagrees" in skipped["1157_kz_deve.wav"]


# ----------------------------------------------------------------- RAVDESS
def test_ravdess_pairs_audio_with_video_and_reads_the_seven_fields(tmp_path, wav, touch):
    actor1, actor2 = tmp_path / "Actor_01", tmp_path / "Actor_02"
    wav(actor1 / "03-01-05-02-01-01-01.wav")
    touch(actor1 / "01-01-05-02-01-01-01.mp4", b"fake mp4")
    touch(actor1 / "02-01-05-02-01-01-01.mp4", b"fake mp4")
    wav(actor1 / "03-01-01-01-02-02-01.wav")
    touch(actor1 / "02-01-01-01-02-02-01.mp4", b"fake mp4")
    wav(actor2 / "03-02-03-02-02-01-02.wav")  # song
    wav(actor2 / "03-01-09-01-01-01-02.wav")  # unknown emotion code
    loaded = load_corpus("ravdess", tmp_path, vocal_channels=["speech", "song"])
    table = loaded.table.set_index(loaded.table["path"].map(lambda p: Path(p).name))
    _check_schema(loaded.table)
    angry = table.loc["03-01-05-02-01-01-01.wav"]
    assert (angry["speaker"], angry["gender"], angry["emotion"],
            angry["emotion_level"]) == ("01", "male", "anger", "strong")
    assert Path(angry["video"]).name == "01-01-05-02-01-01-01.mp4"  # audio-video preferred
    assert Path(table.loc["03-01-01-01-02-02-01.wav", "video"]).name == "02-01-01-01-02-02-01.mp4"
    assert table.loc["03-01-01-01-02-02-01.wav", "text"] == "Dogs are sitting by the door."
    song = table.loc["03-02-03-02-02-01-02.wav"]
    assert (song["gender"], song["vocal_channel"], song["emotion"]) == ("female", "song", "happiness")
    assert pd.isna(song["video"])
    assert "emotion code '09'" in _skipped(loaded)["03-01-09-01-01-01-02.wav"]
    speech_only = load_corpus("ravdess", tmp_path, video=False).table  # speech by default, as SER studies use
    assert set(speech_only["vocal_channel"]) == {"speech"} and speech_only["video"].isna().all()


def test_a_second_copy_of_a_corpus_under_the_root_is_not_counted_twice(tmp_path, wav):
    """Repacked downloads nest the corpus twice (RAVDESS Actor_XX/ beside audio_speech_actors_01-24/Actor_XX/)."""
    wav(tmp_path / "Actor_01" / "03-01-05-02-01-01-01.wav")
    wav(tmp_path / "audio_speech_actors_01-24" / "Actor_01" / "03-01-05-02-01-01-01.wav")
    loaded = load_corpus("ravdess", tmp_path, video=False)
    assert len(loaded.table) == 1 and "Actor_01" == Path(loaded.table["path"].iloc[0]).parent.name
    assert Path(loaded.table["path"].iloc[0]).parent.parent == tmp_path.resolve()  # the copy nearest the root
    assert "second copy" in _skipped(loaded)["03-01-05-02-01-01-01.wav"]


def test_turev_reads_the_repositorys_sound_source_only(tmp_path, wav):
    """The TurEV-DB repository also holds filtered copies of its test files under 'Model Output for Test Data'."""
    wav(tmp_path / "Sound Source" / "Angry" / "1157_kz_beste.wav")
    wav(tmp_path / "Model Output for Test Data" / "testEmotions500HighPass" / "sound" / "Angry" / "1157_kz_beste.wav")
    table = load_corpus("turev-db", tmp_path).table
    assert len(table) == 1 and "Sound Source" in table["path"].iloc[0]


def test_turev_keeps_the_correctly_filed_copy_even_when_a_misfiled_one_sorts_first(tmp_path, wav):
    """Copies of one name are resolved after the folder check: 'Angry' < 'Sad', so the misfiled copy sorts first."""
    wav(tmp_path / "Sound Source" / "Angry" / "1157_hl_acik.wav")  # a sadness code in the anger folder
    wav(tmp_path / "Sound Source" / "Sad" / "1157_hl_acik.wav")
    wav(tmp_path / "Sound Source" / "Angry" / "1157_kz_kapi.wav")
    wav(tmp_path / "Sound Source" / "Calm" / "1157_kz_kapi.wav")  # an anger code in the calm folder
    loaded = load_corpus("turev-db", tmp_path)
    kept = {(Path(p).parent.name, Path(p).name, e) for p, e in zip(loaded.table["path"], loaded.table["emotion"])}
    assert kept == {("Sad", "1157_hl_acik.wav", "sadness"), ("Angry", "1157_kz_kapi.wav", "anger")}
    reasons = [s.reason for s in loaded.skipped]
    assert sum("disagrees with folder" in r for r in reasons) == 2 and not any("second copy" in r for r in reasons)


# ----------------------------------------------------------------- CREMA-D
def test_cremad_reads_names_and_demographics(tmp_path, wav, touch):
    wav(tmp_path / "AudioWAV" / "1001_DFA_ANG_XX.wav")
    wav(tmp_path / "AudioWAV" / "1002_IEO_HAP_HI.wav")
    wav(tmp_path / "AudioWAV" / "1001_DFA_XYZ_XX.wav")
    touch(tmp_path / "AudioWAV" / "1076_MTI_SAD_XX.wav")  # the corpus's known empty file
    touch(tmp_path / "VideoFlash" / "1001_DFA_ANG_XX.flv", b"fake flv")
    (tmp_path / "VideoDemographics.csv").write_text(
        "ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n1002,21,Female,Caucasian,Not Hispanic\n"
    )
    loaded = load_corpus("cremad", tmp_path)
    table = loaded.table.set_index(loaded.table["path"].map(lambda p: Path(p).name))
    _check_schema(loaded.table)
    first = table.loc["1001_DFA_ANG_XX.wav"]
    assert (first["speaker"], first["gender"], first["age"], first["emotion"], first["emotion_level"]) == (
        "1001", "male", 51, "anger", "unspecified")
    assert first["text"] == "Don't forget a jacket." and Path(first["video"]).name == "1001_DFA_ANG_XX.flv"
    second = table.loc["1002_IEO_HAP_HI.wav"]
    assert (second["gender"], second["emotion"], second["emotion_level"]) == ("female", "happiness", "high")
    skipped = _skipped(loaded)
    assert "'XYZ'" in skipped["1001_DFA_XYZ_XX.wav"] and "empty" in skipped["1076_MTI_SAD_XX.wav"]


# ------------------------------------------------------------------- SAVEE
def test_savee_reads_both_published_layouts(tmp_path, wav):
    wav(tmp_path / "AudioData" / "DC" / "a01.wav")
    wav(tmp_path / "AudioData" / "JE" / "sa02.wav")
    wav(tmp_path / "ALL" / "KL_su03.wav")
    wav(tmp_path / "ALL" / "JK_n01.wav")
    wav(tmp_path / "ALL" / "DC_x01.wav")
    loaded = load_corpus("savee", tmp_path)
    _check_schema(loaded.table)
    found = {name: (s, e) for name, s, e in zip(_names(loaded.table), loaded.table["speaker"], loaded.table["emotion"])}
    assert found == {"a01.wav": ("DC", "anger"), "sa02.wav": ("JE", "sadness"), "KL_su03.wav": ("KL", "surprise"),
                     "JK_n01.wav": ("JK", "neutral")}
    assert set(loaded.table["gender"]) == {"male"}
    assert "'x'" in _skipped(loaded)["DC_x01.wav"]


# -------------------------------------------------------------------- TESS
def test_tess_reads_speaker_word_and_emotion(tmp_path, wav):
    base = tmp_path / "TESS Toronto emotional speech set data"
    wav(base / "OAF_angry" / "OAF_back_angry.wav", sample_rate=24414)
    wav(base / "YAF_pleasant_surprised" / "YAF_dog_ps.wav", sample_rate=24414)
    wav(base / "OAF_Fear" / "OAF_bean_Fear.wav", sample_rate=24414)
    wav(base / "OAF_bored" / "OAF_back_bored.wav", sample_rate=24414)
    loaded = load_corpus("tess", tmp_path)
    table = loaded.table.set_index(loaded.table["path"].map(lambda p: Path(p).name))
    _check_schema(loaded.table)
    assert table.loc["OAF_back_angry.wav", ["speaker", "emotion", "age", "text"]].tolist() == [
        "OAF", "anger", 64, "Say the word back."]
    assert table.loc["YAF_dog_ps.wav", "emotion"] == "surprise"
    assert table.loc["OAF_bean_Fear.wav", "emotion"] == "fear"
    assert set(table["gender"]) == {"female"}
    assert "'bored'" in _skipped(loaded)["OAF_back_bored.wav"]


# ----------------------------------------------------------------- IEMOCAP
EVALUATION_IMPRO = """% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]

[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]
C-E2:\tNeutral state;\t()
C-E3:\tNeutral state;\t()
C-E4:\tNeutral state; Frustration;\t()
C-F1:\tNeutral state;\t(curious)
A-E3:\tval 3; act 2; dom  2;\t()

[10.0100 - 11.3925]\tSes01F_impro01_M000\txxx\t[3.0000, 4.0000, 3.5000]
C-E2:\tAnger;\t()
C-E3:\tFrustration;\t()
C-M1:\tAnger;\t()
A-E3:\tval 3; act 4; dom  3;\t()

[14.8872 - 18.0175]\tSes01F_impro01_F001\texc\t[4.0000, 4.5000, 3.0000]
C-E2:\tExcited;\t()
C-E3:\tExcited; Happiness;\t()

[19.2900 - 20.7875]\tSes01F_impro01_M001\tfru\t[2.0000, 3.0000, 3.0000]
C-E2:\tFrustration;\t()
C-E3:\tFrustration;\t()

[21.0000 - 22.0000]\tSes01F_impro01_M002\tsad\t[1.0000, 1.5000, 2.0000]
C-E2:\tSadness;\t()
C-E3:\tSadness;\t()
"""
EVALUATION_SCRIPT = """% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]

[1.0000 - 3.0000]\tSes01F_script01_1_F000\tang\t[1.5000, 4.0000, 4.5000]
C-E1:\tAnger;\t()
C-E3:\tAnger;\t()

[3.5000 - 5.0000]\tSes01F_script01_1_M000\tsad\t[2.0000, 2.0000, 2.0000]
C-E1:\tSadness;\t()
C-E3:\tSadness;\t()
"""
EVALUATION_SESSION2 = """[1.0000 - 2.0000]\tSes02M_impro02_F000\thap\t[4.0000, 3.0000, 3.0000]
C-E1:\tHappiness;\t()
C-E2:\tHappiness;\t()

[2.5000 - 4.0000]\tSes02M_impro02_M000\toth\t[3.0000, 3.0000, 3.0000]
C-E1:\tOther:curious;\t()
C-E2:\tOther:amused;\t()
"""
TRANSCRIPT_IMPRO = """Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.
Ses01F_impro01_M000 [010.0100-011.3925]: Do you have your forms?
M: [BREATHING]
"""


def _iemocap_tree(root: Path, wav) -> Path:
    release = root / "IEMOCAP_full_release"
    dialogs = {
        ("Session1", "Ses01F_impro01"): EVALUATION_IMPRO,
        ("Session1", "Ses01F_script01_1"): EVALUATION_SCRIPT,
        ("Session2", "Ses02M_impro02"): EVALUATION_SESSION2,
    }
    for (session, dialog), text in dialogs.items():
        evaluation = release / session / "dialog" / "EmoEvaluation" / f"{dialog}.txt"
        evaluation.parent.mkdir(parents=True, exist_ok=True)
        evaluation.write_text(text)
        for line in text.splitlines():
            if line.startswith("["):
                turn = line.split("\t")[1]
                if turn != "Ses01F_impro01_M002":  # listed but missing on disk
                    wav(release / session / "sentences" / "wav" / dialog / f"{turn}.wav")
    transcripts = release / "Session1" / "dialog" / "transcriptions" / "Ses01F_impro01.txt"
    transcripts.parent.mkdir(parents=True)
    transcripts.write_text(TRANSCRIPT_IMPRO)
    (release / "Session1" / "dialog" / "EmoEvaluation" / "._Ses01F_impro01.txt").write_bytes(b"\x00\x05junk")
    return release


def test_iemocap_reads_labels_speakers_dimensions_and_transcripts(tmp_path, wav):
    loaded = load_corpus("iemocap", _iemocap_tree(tmp_path, wav))
    table = loaded.table.set_index(loaded.table["path"].map(lambda p: Path(p).stem))
    _check_schema(loaded.table)
    assert len(table) == 8
    first = table.loc["Ses01F_impro01_F000"]
    assert (first["speaker"], first["gender"], first["session"],
            first["emotion"]) == ("Ses01F", "female", "Ses01", "neutral")
    assert (first["valence"], first["arousal"], first["dominance"]) == (0.375, 0.375, 0.375)
    assert first["text"] == "Excuse me." and bool(first["improvised"]) and first["agreement"] == "majority"
    assert table.loc["Ses01F_impro01_M000", "speaker"] == "Ses01M"  # the turn's speaker, not the dialog's
    assert table.loc["Ses01F_impro01_M000", "text"] == "Do you have your forms?"
    assert table.loc["Ses01F_impro01_F001", "emotion"] == "excited"
    assert table.loc["Ses01F_script01_1_F000", ["emotion", "valence", "improvised"]].tolist() == ["anger", 0.125, False]
    assert table.loc["Ses02M_impro02_M000", "emotion"] == "other"
    assert set(table["speaker"]) == {"Ses01F", "Ses01M", "Ses02F", "Ses02M"}
    assert "missing" in _skipped(loaded)["Ses01F_impro01_M002.wav"]


def test_iemocap_breaks_ties_reproducibly_among_the_top_votes(tmp_path, wav):
    release = _iemocap_tree(tmp_path, wav)
    default = load_corpus("iemocap", release).table  # no majority, no label: the usual practice
    assert pd.isna(default[default["path"].str.contains("impro01_M000")]["emotion"].iloc[0])
    draws = {
        load_corpus("iemocap", release, seed=seed, tie_break="random").table.set_index("path")
            .filter(like="impro01_M000", axis=0)["emotion"].iloc[0]
        for seed in range(12)
    }
    assert draws == {"anger", "frustration"}  # both top labels occur over seeds, nothing else
    again = [load_corpus("iemocap", release, seed=3, tie_break="random").table["emotion"].tolist() for _ in range(2)]
    assert again[0] == again[1]
    tie = load_corpus("iemocap", release, tie_break="none").table
    row = tie[tie["path"].str.contains("impro01_M000")].iloc[0]
    assert pd.isna(row["emotion"]) and row["agreement"] == "tie"
    with_self = load_corpus("iemocap", release, self_evaluation=True, seed=0, tie_break="random").table
    assert with_self[with_self["path"].str.contains("impro01_M000")]["emotion"].iloc[0] == "anger"


def test_iemocap_four_class_merges_excited_and_improvised_only_drops_scripts(tmp_path, wav):
    release = _iemocap_tree(tmp_path, wav)
    four = load_corpus("iemocap", release, four_class=True).table
    assert sorted(four["emotion"]) == ["anger", "happiness", "happiness", "neutral", "sadness"]
    improvised = load_corpus("iemocap", release, four_class=True, improvised_only=True).table
    assert sorted(improvised["emotion"]) == ["happiness", "happiness", "neutral"]
    assert load_corpus("iemocap", release, sessions=[2]).table["session"].unique().tolist() == ["Ses02"]
    with pytest.raises(ConfigError, match="tie_break"):
        load_corpus("iemocap", release, tie_break="vote")



def test_iemocap_video_names_each_turns_span_and_speaker_half_of_the_dialog_video(tmp_path, wav, touch):
    release = _iemocap_tree(tmp_path, wav)
    touch(release / "Session1" / "dialog" / "avi" / "DivX" / "Ses01F_impro01.avi", b"fake avi")
    touch(release / "Session1" / "dialog" / "avi" / "DivX" / "Ses01F_script01_1.avi", b"fake avi")
    loaded = load_corpus("iemocap", release, video=True)  # Session2 has no video: its turns are reported
    table = loaded.table.set_index(loaded.table["path"].map(lambda p: Path(p).stem))
    divx = release / "Session1" / "dialog" / "avi" / "DivX"
    # Ses01F dialogs: the female actor wears the markers and is on the left, the male actor on the right
    assert (table.loc["Ses01F_impro01_F000", "video"]
            == f"{divx / 'Ses01F_impro01.avi'}#t=6.2901,8.2357&xywh=percent:0,0,50,100")
    assert table.loc["Ses01F_impro01_M000", "video"].endswith(
        "Ses01F_impro01.avi#t=10.01,11.3925&xywh=percent:50,0,50,100")
    assert table.loc["Ses01F_script01_1_M000", "video"].endswith("#t=3.5,5&xywh=percent:50,0,50,100")
    assert table.loc["Ses01F_impro01_F000", ["dialog_start", "dialog_end"]].tolist() == [6.2901, 8.2357]
    assert not any("Ses02" in name for name in table.index)
    assert "no video of dialog Ses02M_impro02" in _skipped(loaded)["Ses02M_impro02_F000.wav"]
    assert load_corpus("iemocap", release).table["video"].isna().all()  # video is opt-in

# -------------------------------------------------------------------- ExVo
def test_exvo_reads_intensities_age_country_and_fixed_split(tmp_path, wav):
    header = ("File_ID,Subject_ID,Split,Age,Country,Country_string,Awe,Excitement,Amusement,Awkwardness,Fear,Horror,"
              "Distress,Triumph,Sadness,Surprise\n")
    rows = [
        "[00001],Speaker_1,Train,25,United States,United States,0.1,0.9,0.2,0,0,0,0,0.3,0,0.4\n",
        "[00002],Speaker_2,Val,31,China,China,0.7,0.1,0,0,0,0,0,0,0,0.1\n",
        "[00003],Speaker_3,Test,,,,,,,,,,,,,\n",
        "[00004],Speaker_4,Train,40,Venezuela,Venezuela,0,0,0,0,0,0,0,0,0,0\n",  # audio missing
    ]
    (tmp_path / "data_info.csv").write_text(header + "".join(rows))
    for stem in ("00001", "00002", "00003"):
        wav(tmp_path / "wav" / f"{stem}.wav", 0.5)
    loaded = load_corpus("exvo", tmp_path)
    table = loaded.table
    _check_schema(table)
    assert table["split"].tolist() == ["train", "validation", "test"]
    assert table["speaker"].tolist() == ["Speaker_1", "Speaker_2", "Speaker_3"]
    assert table.loc[0, "intensity_excitement"] == 0.9 and table.loc[0, "country"] == "United States"
    assert table.loc[1, "age"] == 31 and pd.isna(table.loc[2, "intensity_awe"])
    assert len([c for c in table.columns if c.startswith("intensity_")]) == 10
    assert table["emotion"].isna().all()
    assert "missing" in _skipped(loaded)["00004.wav"]
    dominant = load_corpus("exvo", tmp_path, dominant_emotion=True).table
    assert dominant["emotion"].tolist()[:2] == ["excitement", "awe"]


def test_exvo_finds_its_audio_beside_data_info_below_the_given_root(tmp_path, wav):
    release = tmp_path / "ExVo"
    header = ("File_ID,Subject_ID,Split,Age,Country,Country_string,Awe,Excitement,Amusement,Awkwardness,Fear,Horror,"
              "Distress,Triumph,Sadness,Surprise\n")
    release.mkdir()
    (release / "data_info.csv").write_text(header + "[00001],Speaker_1,Train,25,1,United States,"
                                           "0.1,0.9,0.2,0,0,0,0,0.3,0,0.4\n")
    wav(release / "wav" / "00001.wav", 0.5)
    assert len(load_corpus("exvo", tmp_path).table) == 1


def test_exvo_names_a_missing_column(tmp_path):
    (tmp_path / "data_info.csv").write_text("File_ID,Split\n[00001],Train\n")
    with pytest.raises(LabelError, match="Subject_ID"):
        load_corpus("exvo", tmp_path)


# -------------------------------------------------------------------- nEMO
def test_nemo_reads_data_tsv(tmp_path, wav):
    (tmp_path / "data.tsv").write_text(
        "file_id\temotion\traw_text\tnormalized_text\tspeaker_id\tgender\tage\n"
        "SB0_anger_0.wav\tanger\tDzień dobry!\tdzień dobry\tSB0\tmale\t24\n"
        "MA0_surprised_1.wav\tsurprised\tCo?\tco\tMA0\tfemale\t22\n"
        "MA0_bored_2.wav\tbored\tNo.\tno\tMA0\tfemale\t22\n"
    )
    for name in ("SB0_anger_0.wav", "MA0_surprised_1.wav", "MA0_bored_2.wav"):
        wav(tmp_path / "samples" / name)
    loaded = load_corpus("nemo", tmp_path)
    table = loaded.table
    _check_schema(table)
    assert table[["speaker", "gender", "emotion", "text"]].values.tolist() == [
        ["SB0", "male", "anger", "Dzień dobry!"], ["MA0", "female", "surprise", "Co?"]]
    assert table["age"].tolist() == [24, 22] and set(table["language"]) == {"pl"}
    assert "'bored'" in _skipped(loaded)["MA0_bored_2.wav"]


# ---------------------------------------------------------------- manifest
def test_manifest_maps_user_columns_and_resolves_relative_paths(tmp_path, wav):
    wav(tmp_path / "audio" / "a.wav")
    wav(tmp_path / "audio" / "b.wav")
    manifest = tmp_path / "labels.tsv"
    manifest.write_text("wav\tspk\tlabel\tsplit\tmood\naudio/a.wav\t7\tAngry\ttrain\t0.3\naudio/b.wav\t8\tSad\ttest\t0.1\n"
                        "audio/c.wav\t\tSad\ttest\t0.2\n")
    loaded = load_corpus("manifest", manifest, columns={"path": "wav", "emotion": "label"}, speaker_column="spk",
                         corpus="mine", language="fi")
    table = loaded.table
    _check_schema(table)
    assert table["path"].tolist() == [str((tmp_path / "audio" / n).resolve()) for n in ("a.wav", "b.wav")]
    assert table[["speaker", "emotion", "split", "corpus", "language"]].values.tolist() == [
        ["7", "angry", "train", "mine", "fi"], ["8", "sad", "test", "mine", "fi"]]
    assert "mood" in table.columns
    assert "no speaker" in _skipped(loaded)["c.wav"]


def test_manifest_finds_the_default_file_and_names_missing_columns(tmp_path, wav):
    wav(tmp_path / "x.wav")
    (tmp_path / "manifest.csv").write_text("path,speaker,emotion\nx.wav,s1,neutral\n")
    assert load_corpus("manifest", tmp_path).table["emotion"].tolist() == ["neutral"]
    with pytest.raises(LabelError, match=r"manifest.csv: column 'label'"):
        load_corpus("manifest", tmp_path, emotion_column="label")
    with pytest.raises(ConfigError, match="unknown option"):
        load_corpus("manifest", tmp_path, colour="red")


# -------------------------------------------------------------------- demo
def test_demo_is_imported_lazily_by_module_name(monkeypatch, tmp_path, wav):
    path = wav(tmp_path / "demo_0.wav")
    calls = {}

    def fake_load(root=None, **options):
        calls["args"] = (root, options)
        return pd.DataFrame({"path": [str(path)], "corpus": ["demo"], "speaker": ["spk0"], "gender": ["female"],
                             "language": ["en"], "emotion": ["happiness"]})

    module = types.ModuleType("emomtl.data.corpora.demo")
    module.load = fake_load
    monkeypatch.setitem(sys.modules, "emomtl.data.corpora.demo", module)
    loaded = load_corpus("demo", speakers=4)
    assert calls["args"] == (None, {"speakers": 4})
    assert loaded.table["speaker"].tolist() == ["spk0"] and loaded.name == "demo"
