"""RAVDESS (Ryerson Audio-Visual Database of Emotional Speech and Song): 24 actors, English.

File names are seven two-digit fields ``MM-VC-EE-II-SS-RR-AA`` in ``Actor_AA/`` folders:
modality (01 audio-video, 02 video-only, 03 audio-only), vocal channel (01 speech, 02 song),
emotion, intensity (01 normal, 02 strong), statement, repetition and actor (odd = male, even = female).
Each audio-only ``.wav`` is one row; its audio-video (else video-only) ``.mp4`` twin goes in ``video``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from emomtl.data.corpora.checks import SkippedFile, report_skip
from emomtl.data.corpora.listing import corpus_root, first_copy_of_each_name, list_files
from emomtl.data.schema import conform
from emomtl.errors import ConfigError

NAME = "ravdess"
FILE_NAME = re.compile(
    r"^(?P<modality>\d{2})-(?P<channel>\d{2})-(?P<emotion>\d{2})-(?P<intensity>\d{2})"
    r"-(?P<statement>\d{2})-(?P<repetition>\d{2})-(?P<actor>\d{2})\.(?P<ext>wav|mp4)$",
    re.IGNORECASE,
)
EMOTIONS = {
    "01": "neutral",
    "02": "calm",
    "03": "happiness",
    "04": "sadness",
    "05": "anger",
    "06": "fear",
    "07": "disgust",
    "08": "surprise",
}
CHANNELS = {"01": "speech", "02": "song"}
INTENSITIES = {"01": "normal", "02": "strong"}
STATEMENTS = {"01": "Kids are talking by the door.", "02": "Dogs are sitting by the door."}
AUDIO_ONLY, AUDIO_VIDEO, VIDEO_ONLY = "03", "01", "02"


def _stimulus(match: re.Match[str]) -> str:
    """The identifier without the modality: what an audio file and its video twin share."""
    return "-".join(match[k] for k in ("channel", "emotion", "intensity", "statement", "repetition", "actor"))


def _videos(files: list[tuple[Path, re.Match[str]]]) -> dict[str, Path]:
    """Stimulus -> mp4, preferring the audio-video recording over the video-only one."""
    videos: dict[str, Path] = {}
    for modality in (VIDEO_ONLY, AUDIO_VIDEO):
        for path, match in files:
            if match["ext"].lower() == "mp4" and match["modality"] == modality:
                videos[_stimulus(match)] = path
    return videos


def load(
    root: Path,
    *,
    vocal_channels: Iterable[str] = ("speech",),
    video: bool = True,
    skipped: list[SkippedFile] | None = None,
) -> pd.DataFrame:
    """One row per audio-only recording with its paired video when present: speech by default (the 1440 files
    of 24 actors that speech emotion studies use), ``vocal_channels: [speech, song]`` adds the sung ones."""
    root = corpus_root(root, NAME)
    channels = {str(c).lower() for c in ([vocal_channels] if isinstance(vocal_channels, str) else vocal_channels)}
    if not channels <= set(CHANNELS.values()):
        raise ConfigError(f"ravdess.vocal_channels: {sorted(channels)} must be among ['song', 'speech']")
    files = []
    for path in first_copy_of_each_name(list_files(root, (".wav", ".mp4")), skipped):
        match = FILE_NAME.match(path.name)
        if match is None:
            report_skip(skipped, path, "file name does not follow RAVDESS's MM-VC-EE-II-SS-RR-AA")
        else:
            files.append((path, match))
    videos = _videos(files) if video else {}
    rows = []
    for path, match in files:
        if match["ext"].lower() != "wav":
            continue
        problems = [
            f"unknown RAVDESS {field} code {match[field]!r}"
            for field, codes in (("channel", CHANNELS), ("emotion", EMOTIONS),
                                 ("intensity", INTENSITIES), ("statement", STATEMENTS))
            if match[field] not in codes
        ]
        if match["modality"] != AUDIO_ONLY:
            problems.insert(0, f"a .wav file must have modality {AUDIO_ONLY} (audio-only), not {match['modality']!r}")
        if problems:
            report_skip(skipped, path, "; ".join(problems))
            continue
        channel = CHANNELS[match["channel"]]
        if channel not in channels:
            continue
        actor = match["actor"]
        video_path = videos.get(_stimulus(match))
        rows.append({
            "path": str(path),
            "corpus": NAME,
            "speaker": actor,
            "gender": "male" if int(actor) % 2 == 1 else "female",
            "language": "en",
            "emotion": EMOTIONS[match["emotion"]],
            "emotion_level": INTENSITIES[match["intensity"]],
            "vocal_channel": channel,
            "text": STATEMENTS[match["statement"]],
            "video": str(video_path) if video_path else None,
        })
    return conform(pd.DataFrame(rows))
