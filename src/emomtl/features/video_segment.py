"""A part of a video file named by a W3C Media Fragment: ``dialog.avi#t=6.29,8.24&xywh=percent:0,0,50,100``.

Corpora whose utterances are segments of one long recording (IEMOCAP: one video per dialog showing both actors)
give each row's ``video`` as such an item: ``t=start,end`` in seconds (either may be empty) and ``xywh`` a
region of every frame, in ``percent`` of the frame or in ``pixel`` (the spec's default unit). A plain path is the
whole file and frame.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from emomtl.errors import EmomtlError

#: The fragment after the last ``#``: ``t=...`` and/or ``xywh=...`` joined by ``&``.
FRAGMENT = re.compile(r"^(?:t=[^&#]*|xywh=[^&#]*)(?:&(?:t=[^&#]*|xywh=[^&#]*))*$")
TIME = re.compile(r"^t=(?:npt:)?(?P<start>[\d.]*)(?:,(?P<end>[\d.]*))?$")
REGION = re.compile(r"^xywh=(?:(?P<unit>pixel|percent):)?(?P<x>[\d.]+),(?P<y>[\d.]+),(?P<w>[\d.]+),(?P<h>[\d.]+)$")


class VideoSegmentError(EmomtlError):
    """A media fragment cannot be read; the message names the item."""


@dataclass(frozen=True)
class VideoSegment:
    """The file, the time span in seconds (``None``: from the start / to the end) and the frame region."""

    path: Path
    start: float | None = None
    end: float | None = None
    region: tuple[str, float, float, float, float] | None = None  # (unit, x, y, width, height)
    fragment: str = ""

    def pixel_box(self, height: int, width: int) -> tuple[int, int, int, int]:
        """``(top, bottom, left, right)`` of the region in a ``height`` x ``width`` frame (the whole frame if none)."""
        if self.region is None:
            return 0, height, 0, width
        unit, x, y, w, h = self.region
        if unit == "percent":
            x, w, y, h = x * width / 100, w * width / 100, y * height / 100, h * height / 100
        left, top = int(round(min(x, width - 1))), int(round(min(y, height - 1)))
        right, bottom = int(round(min(x + w, width))), int(round(min(y + h, height)))
        return top, max(bottom, top + 1), left, max(right, left + 1)


def video_item(path: str | os.PathLike, start: float | None = None, end: float | None = None,
               region: tuple[str, float, float, float, float] | None = None) -> str:
    """``path#t=start,end&xywh=unit:x,y,w,h`` (parts left out when ``None``); a plain path when all are."""
    parts = []
    if start is not None or end is not None:
        parts.append(f"t={'' if start is None else f'{start:g}'},{'' if end is None else f'{end:g}'}")
    if region is not None:
        unit, *box = region
        parts.append(f"xywh={unit}:" + ",".join(f"{v:g}" for v in box))
    return os.fspath(path) + ("#" + "&".join(parts) if parts else "")


def parse_video_item(item: str | os.PathLike) -> VideoSegment:
    """The segment an item names; a path without a media fragment is the whole file."""
    text = os.fspath(item)
    base, hash_mark, fragment = text.rpartition("#")
    if not hash_mark or not FRAGMENT.match(fragment) or Path(text).exists():
        return VideoSegment(Path(text))
    start = end = None
    region = None
    for part in fragment.split("&"):
        if part.startswith("t="):
            match = TIME.match(part)
            if match is None:
                raise VideoSegmentError(f"{text}: media fragment {part!r} is not t=<start>,<end> in seconds")
            start = float(match["start"]) if match["start"] else None
            end = float(match["end"]) if match["end"] else None
        else:
            match = REGION.match(part)
            if match is None:
                raise VideoSegmentError(f"{text}: media fragment {part!r} is not xywh=[percent:|pixel:]x,y,w,h")
            region = (match["unit"] or "pixel", *(float(match[k]) for k in "xywh"))
    if start is not None and end is not None and end <= start:
        raise VideoSegmentError(f"{text}: the segment ends ({end}) before it starts ({start})")
    return VideoSegment(Path(base), start, end, region, fragment)
