"""IEMOCAP (Interactive Emotional Dyadic Motion Capture): 5 sessions x 2 actors, English.

Read from the release layout::

    Session1/dialog/EmoEvaluation/Ses01F_impro01.txt      labels of every turn of a dialog
    Session1/dialog/transcriptions/Ses01F_impro01.txt     transcripts
    Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav
    Session1/dialog/avi/DivX/Ses01F_impro01.avi               video of the whole dialog (both actors)

Each turn's header line in ``EmoEvaluation`` holds the evaluators' majority label (``xxx`` when
there is none) and the mean valence/activation/dominance on 1-5 (rescaled here to 0-1); the
following ``C-E*`` lines hold each evaluator's categorical labels. A turn ``Ses01F_impro01_M003`` is
spoken by the male actor of session 1, so its speaker is ``Ses01M``.

Each row keeps the turn's ``dialog_start`` and ``dialog_end`` (seconds, from the header; not ``start``/``end``,
which would cut the already segmented ``path``). With ``video=True`` its
``video`` names the turn's segment of the dialog video and the speaker's half of the frame as a media fragment
(:mod:`emomtl.features.video_segment`): ``.../DivX/Ses01F_impro01.avi#t=6.2901,8.2357&xywh=percent:0,0,50,100``.
The dialog videos show both actors side by side; the actor wearing the motion-capture markers (the letter after
the session number in the dialog name: ``Ses01F`` -> the female actor) is on the left, the other on the right,
the convention public IEMOCAP preprocessing scripts use for the face track. The video extractor then searches
the speaker's face in that half of every frame of the turn.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from emomtl.data.corpora.checks import SkippedFile, report_skip
from emomtl.data.corpora.listing import corpus_root
from emomtl.data.schema import conform
from emomtl.errors import ConfigError
from emomtl.features.video_segment import video_item

NAME = "iemocap"
HEADER = re.compile(
    r"^\[(?P<start>[\d.]+)\s*-\s*(?P<end>[\d.]+)\]\s+(?P<turn>Ses\S+)\s+(?P<code>\S+)\s+"
    r"\[(?P<valence>[\d.]+),\s*(?P<arousal>[\d.]+),\s*(?P<dominance>[\d.]+)\]"
)
VOTES = re.compile(r"^C-(?P<evaluator>[A-Za-z]+\d*):\s*(?P<labels>[^(]*)")
TRANSCRIPT = re.compile(r"^(?P<turn>Ses\S+)\s+\[[^\]]*\]:\s*(?P<text>.*)$")
TURN = re.compile(r"^(?P<session>Ses\d{2})(?P<markers>[FM])_(?P<kind>impro|script)\S*_(?P<gender>[FM])\S*$")
#: Folders searched for a dialog's video, in order (the release ships DivX ``.avi`` files).
VIDEO_FOLDERS = (("avi", "DivX"), ("avi",))
VIDEO_SUFFIXES = (".avi", ".mp4")

#: Header codes -> English names; ``xxx`` marks a turn without a majority.
CODES = {
    "neu": "neutral",
    "hap": "happiness",
    "exc": "excited",
    "sad": "sadness",
    "ang": "anger",
    "fru": "frustration",
    "sur": "surprise",
    "fea": "fear",
    "dis": "disgust",
    "oth": "other",
    "xxx": None,
}
#: Evaluator label names -> English names.
VOTE_NAMES = {
    "neutral": "neutral",
    "neutral state": "neutral",
    "happiness": "happiness",
    "excited": "excited",
    "sadness": "sadness",
    "anger": "anger",
    "frustration": "frustration",
    "surprise": "surprise",
    "fear": "fear",
    "disgust": "disgust",
    "other": "other",
}
#: The common 4-class subset (5531 turns): excited is merged into happiness.
FOUR_CLASS = {"neu": "neutral", "sad": "sadness", "ang": "anger", "hap": "happiness", "exc": "happiness"}
TIE_BREAKS = ("random", "none")


@dataclass
class Turn:
    """One evaluated turn of an ``EmoEvaluation`` file (``start``/``end`` in seconds of the dialog)."""

    name: str
    code: str
    valence: float
    arousal: float
    dominance: float
    votes: Counter[str] = field(default_factory=Counter)
    start: float | None = None
    end: float | None = None


def _vote_labels(text: str) -> list[str]:
    """``'Frustration; Other:annoyed;'`` -> ``['frustration', 'other']`` (unknown names dropped)."""
    labels = []
    for item in text.split(";"):
        name = item.split(":")[0].strip().lower()
        if name in VOTE_NAMES:
            labels.append(VOTE_NAMES[name])
    return labels


def parse_evaluation(path: Path, self_evaluation: bool = False) -> Iterator[Turn]:
    """The turns of one ``EmoEvaluation`` file with the evaluators' votes."""
    turn: Turn | None = None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        header = HEADER.match(line)
        if header is not None:
            if turn is not None:
                yield turn
            turn = Turn(
                header["turn"], header["code"].lower(),
                float(header["valence"]), float(header["arousal"]), float(header["dominance"]),
                start=float(header["start"]), end=float(header["end"]),
            )
            continue
        votes = VOTES.match(line)
        if votes is not None and turn is not None:
            external = votes["evaluator"].upper().startswith("E")
            if external or self_evaluation:
                turn.votes.update(set(_vote_labels(votes["labels"])))
    if turn is not None:
        yield turn


def parse_transcripts(path: Path) -> dict[str, str]:
    """Turn name -> transcript from one ``transcriptions`` file (empty when the file is absent)."""
    if not path.is_file():
        return {}
    texts = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = TRANSCRIPT.match(line.strip())
        if match is not None:
            texts[match["turn"]] = match["text"].strip()
    return texts


def break_tie(turn: Turn, seed: int) -> str | None:
    """A label drawn among the most-voted ones, reproducibly from ``seed`` and the turn name."""
    if not turn.votes:
        return None
    top = max(turn.votes.values())
    candidates = sorted(label for label, count in turn.votes.items() if count == top)
    rng = np.random.default_rng([seed, zlib.crc32(turn.name.encode())])
    return candidates[int(rng.integers(len(candidates)))]


def _sessions(root: Path, wanted: Iterable[int] | None) -> list[Path]:
    folders = sorted(root.glob("Session[0-9]*")) or sorted(root.glob("*/Session[0-9]*"))
    folders = [f for f in folders if f.is_dir()]
    if not folders:
        raise ConfigError(f"iemocap: no Session1..Session5 folders under {root}")
    if wanted is not None:
        numbers = {int(n) for n in wanted}
        folders = [f for f in folders if int(re.sub(r"\D", "", f.name) or -1) in numbers]
    return folders


def dialog_video(session_dir: Path, dialog: str) -> Path | None:
    """The video of a whole dialog (``dialog/avi/DivX/<dialog>.avi``), or ``None`` when absent."""
    for parts in VIDEO_FOLDERS:
        for suffix in VIDEO_SUFFIXES:
            path = session_dir.joinpath("dialog", *parts, f"{dialog}{suffix}")
            if path.is_file():
                return path
    return None


def speaker_side(turn_name: str) -> str:
    """``left`` when the turn's speaker wears the markers (dialog ``Ses01F_...``, turn ``..._F000``), else ``right``."""
    parts = TURN.match(turn_name)
    if parts is None:
        raise ValueError(f"turn name {turn_name!r} does not follow IEMOCAP's naming")
    return "left" if parts["markers"] == parts["gender"] else "right"


def turn_video(video: Path, turn: Turn) -> str:
    """The media fragment of the turn's time span and its speaker's half of the frame."""
    x = 0 if speaker_side(turn.name) == "left" else 50
    return video_item(video, turn.start, turn.end, ("percent", x, 0, 50, 100))


def _unit(value: float) -> float:
    """A 1-5 rating on 0-1."""
    return float(np.clip((value - 1.0) / 4.0, 0.0, 1.0))


def load(
    root: Path,
    *,
    four_class: bool = False,
    improvised_only: bool = False,
    tie_break: str = "none",
    seed: int = 0,
    self_evaluation: bool = False,
    sessions: Iterable[int] | None = None,
    video: bool = False,
    skipped: list[SkippedFile] | None = None,
) -> pd.DataFrame:
    """One row per evaluated turn with its label, V/A/D (0-1), transcript and session.

    ``emotion`` is the published majority label; turns without one (``xxx``) have none (``tie_break="none"``,
    the usual practice: they still serve valence/arousal), or ``tie_break="random"`` draws among the most-voted
    evaluator labels (seeded); ``agreement`` says which. ``four_class`` keeps the
    neutral/sadness/anger/happiness+excited subset of majority turns; ``improvised_only`` drops scripted
    dialogs; ``self_evaluation`` counts the actors' own votes;
    ``video`` fills ``video`` with the turn's segment of its dialog video (a turn whose dialog has no video is
    reported and dropped).
    """
    if tie_break not in TIE_BREAKS:
        raise ConfigError(f"iemocap.tie_break: {tie_break!r} is not one of {TIE_BREAKS}")
    root = corpus_root(root, NAME)
    rows = []
    for session_dir in _sessions(root, sessions):
        evaluation_dir = session_dir / "dialog" / "EmoEvaluation"
        evaluations = sorted(p for p in evaluation_dir.glob("*.txt") if not p.name.startswith("."))
        for evaluation in evaluations:
            dialog = evaluation.stem
            if improvised_only and "_impro" not in dialog:
                continue
            texts = parse_transcripts(session_dir / "dialog" / "transcriptions" / f"{dialog}.txt")
            video_path = dialog_video(session_dir, dialog) if video else None
            for turn in parse_evaluation(evaluation, self_evaluation):
                row = _row(turn, session_dir, dialog, texts, four_class, tie_break, seed, skipped)
                if row and video:
                    if video_path is None:
                        report_skip(skipped, Path(row[0]["path"]),
                                    f"no video of dialog {dialog} under {session_dir / 'dialog' / 'avi'}")
                        continue
                    row[0]["video"] = turn_video(video_path, turn)
                rows.extend(row)
    return conform(pd.DataFrame(rows))


def _row(turn: Turn, session_dir: Path, dialog: str, texts: dict[str, str], four_class: bool,
         tie_break: str, seed: int, skipped: list[SkippedFile] | None) -> list[dict]:
    """The table row of one turn (an empty list when it is left out)."""
    wav = session_dir / "sentences" / "wav" / dialog / f"{turn.name}.wav"
    parts = TURN.match(turn.name)
    if parts is None:
        report_skip(skipped, wav, f"turn name {turn.name!r} does not follow IEMOCAP's Ses<nn><F|M>_<dialog>_<F|M><nnn>")
        return []
    if turn.code not in CODES:
        report_skip(skipped, wav, f"unknown IEMOCAP emotion code {turn.code!r}")
        return []
    if four_class and turn.code not in FOUR_CLASS:
        return []
    if not wav.is_file():
        report_skip(skipped, wav, "audio file listed in EmoEvaluation is missing")
        return []
    if four_class:
        emotion, agreement = FOUR_CLASS[turn.code], "majority"
    elif turn.code != "xxx":
        emotion, agreement = CODES[turn.code], "majority"
    else:
        emotion = break_tie(turn, seed) if tie_break == "random" else None
        agreement = "tie"
    return [{
        "path": str(wav),
        "corpus": NAME,
        "speaker": f"{parts['session']}{parts['gender']}",
        "gender": "female" if parts["gender"] == "F" else "male",
        "language": "en",
        "emotion": emotion,
        "valence": _unit(turn.valence),
        "arousal": _unit(turn.arousal),
        "dominance": _unit(turn.dominance),
        "text": texts.get(turn.name),
        "session": parts["session"],
        "dialog": dialog,
        "dialog_start": turn.start,
        "dialog_end": turn.end,
        "improvised": parts["kind"] == "impro",
        "agreement": agreement,
    }]
