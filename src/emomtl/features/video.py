"""Face frames from a video file: OpenCV decode, N frames per second, Haar-cascade face crop, square resize.

Output ``(frames, 3, size, size)`` RGB, uint8 or float32 in [0, 1]. When no face is found in a frame the centre
square is used instead; :attr:`VideoExtractor.face_counts` counts both cases. An item may name a segment of a long
recording with a media fragment (``dialog.avi#t=6.29,8.24&xywh=percent:0,0,50,100``, see
:mod:`emomtl.features.video_segment`): only that time span is decoded and faces are searched in that region.

The Haar cascade ships with OpenCV 4 (``cv2.CascadeClassifier`` + ``cv2.data.haarcascades``); OpenCV 5 removed
both. Without them every frame is centre-cropped, a :class:`VideoWarning` says so once, and the cache key records
the missing detector so such features are never mixed with face-cropped ones.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import warnings
from collections import Counter

import numpy as np

from emomtl.data.audio import PathLike
from emomtl.errors import EmomtlError
from emomtl.features.base import FeatureExtractor, Options, is_number, require
from emomtl.features.video_segment import VideoSegment, parse_video_item

CASCADE_FILE = "haarcascade_frontalface_default.xml"
#: Frames are shrunk so their longer side is at most this many pixels before face detection (speed).
DETECTION_SIDE = 320


class VideoError(EmomtlError):
    """A video file cannot be used; the message names the file and the reason."""


class VideoWarning(UserWarning):
    """Face cropping is unavailable (no Haar cascade in this OpenCV build); frames are centre-cropped."""


def haar_cascade_path() -> str | None:
    """OpenCV's bundled frontal-face cascade file, or ``None`` when this OpenCV build has no Haar cascades."""
    import cv2

    if not hasattr(cv2, "CascadeClassifier"):
        return None
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    path = os.path.join(folder, CASCADE_FILE) if folder else None
    return path if path and os.path.isfile(path) else None


@dataclasses.dataclass(frozen=True)
class VideoOptions(Options):
    """``fps``: frames kept per second; ``face_margin``: box enlargement on each side, as a fraction of its size."""

    fps: float = 5.0
    size: int = 96
    face_crop: bool = True
    face_margin: float = 0.2
    max_frames: int | None = None
    dtype: str = "uint8"

    def check(self, setting: str, sample_rate: int) -> None:
        require(is_number(self.fps) and self.fps > 0, setting, "fps", "must be positive")
        require(isinstance(self.size, int) and self.size > 0, setting, "size", "must be a positive integer")
        require(isinstance(self.face_crop, bool), setting, "face_crop", "must be true or false")
        require(is_number(self.face_margin) and self.face_margin >= 0, setting, "face_margin", "must be >= 0")
        require(self.max_frames is None or (isinstance(self.max_frames, int) and self.max_frames > 0), setting,
                "max_frames", "must be null or a positive integer")
        require(self.dtype in ("uint8", "float32"), setting, "dtype", "must be 'uint8' or 'float32'")


class VideoExtractor(FeatureExtractor):
    """Output: ``(frames, 3, size, size)`` (input ``"video"``)."""

    kind = "video"
    source = "video"
    Options = VideoOptions
    parallel = "thread"  # OpenCV releases the GIL while decoding and detecting

    def __init__(self, options: VideoOptions, sample_rate: int) -> None:
        super().__init__(options, sample_rate)
        self.face_counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        del state["_lock"]
        return state

    @property
    def input_name(self) -> str:
        return "video"

    @property
    def frames_per_second(self) -> float:
        return float(self.options.fps)

    def cache_identity(self) -> dict:
        identity = {k: v for k, v in super().cache_identity().items() if k != "sample_rate"}
        if self.options.face_crop:
            identity["face_detector"] = "haar" if haar_cascade_path() else "none"
        return identity

    def from_path(self, path: PathLike) -> np.ndarray:
        """Frames of a file, or of the time span and frame region a media fragment names (``video_segment``)."""
        segment = parse_video_item(path)
        frames = [self._crop(self._region(frame, segment)) for frame in self._sampled_frames(segment)]
        video = np.stack(frames).transpose(0, 3, 1, 2)
        if self.options.dtype == "float32":
            return np.ascontiguousarray(video, dtype=np.float32) / np.float32(255.0)
        return np.ascontiguousarray(video)

    @staticmethod
    def _region(frame: np.ndarray, segment: VideoSegment) -> np.ndarray:
        """The part of a frame the segment's ``xywh`` names (the whole frame without one)."""
        top, bottom, left, right = segment.pixel_box(*frame.shape[:2])
        return np.ascontiguousarray(frame[top:bottom, left:right])

    def _sampled_frames(self, segment: VideoSegment) -> list[np.ndarray]:
        """Decoded BGR frames of the segment taken every ``1 / fps`` seconds (its first frame always)."""
        import cv2

        path = segment.path
        if not path.is_file():
            raise VideoError(f"{path}: file not found")
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            raise VideoError(f"{path}: cannot open video (unknown format or corrupt file)")
        source_fps = capture.get(cv2.CAP_PROP_FPS)
        source_fps = source_fps if source_fps and np.isfinite(source_fps) and source_fps > 0 else 25.0
        start = segment.start or 0.0
        end = np.inf if segment.end is None else segment.end
        index = int(np.ceil(start * source_fps - 1e-6))
        if index > 0:
            capture.set(cv2.CAP_PROP_POS_FRAMES, index)
            index = int(capture.get(cv2.CAP_PROP_POS_FRAMES))  # where the decoder actually is
        frames, next_time = [], start
        try:
            while self.options.max_frames is None or len(frames) < self.options.max_frames:
                if index / source_fps >= end - 1e-9 or not capture.grab():
                    break
                if index / source_fps + 1e-9 >= next_time:
                    ok, frame = capture.retrieve()
                    if ok and frame is not None:
                        frames.append(frame)
                        next_time += 1.0 / self.options.fps
                index += 1
        finally:
            capture.release()
        if not frames:
            where = f" between {start:g} s and {end:g} s" if segment.fragment else ""
            raise VideoError(f"{path}: no frame could be decoded{where}")
        return frames

    def _crop(self, frame: np.ndarray) -> np.ndarray:
        """The face (or centre) square of a BGR frame, resized to ``size`` and converted to RGB."""
        import cv2

        box = self._detect_face(frame) if self.options.face_crop else None
        with self._lock:
            self.face_counts["frames"] += 1
            self.face_counts["face" if box is not None else "centre_fallback"] += 1
        top, bottom, left, right = self._square(frame.shape[:2], box)
        crop = frame[top:bottom, left:right]
        interpolation = cv2.INTER_AREA if crop.shape[0] > self.options.size else cv2.INTER_LINEAR
        crop = cv2.resize(crop, (self.options.size, self.options.size), interpolation=interpolation)
        return cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)

    def _detect_face(self, frame: np.ndarray) -> tuple[int, int, int, int] | None:
        """The largest frontal face as ``(x, y, width, height)`` in frame pixels, or ``None``."""
        import cv2

        detector = self.resource("detector", self._load_detector)
        if detector is None:
            return None
        scale = min(1.0, DETECTION_SIDE / max(frame.shape[:2]))
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if scale < 1.0:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(gray)
        faces = detector.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24))
        if len(faces) == 0:
            return None
        x, y, w, h = max(faces, key=lambda f: int(f[2]) * int(f[3]))
        return int(x / scale), int(y / scale), int(w / scale), int(h / scale)

    def _load_detector(self):
        """The Haar cascade, or ``None`` (with one warning) when this OpenCV build has none."""
        import cv2

        path = haar_cascade_path()
        if path is None:
            warnings.warn(
                f"OpenCV {cv2.__version__} has no Haar cascade (removed in OpenCV 5): video frames are centre-cropped; "
                "install opencv-python-headless<5 for face crops",
                VideoWarning,
                stacklevel=4,
            )
            return None
        detector = cv2.CascadeClassifier(path)
        if detector.empty():
            raise VideoError(f"{path}: the Haar cascade file could not be loaded")
        return detector

    def _square(self, shape: tuple[int, int], box: tuple[int, int, int, int] | None) -> tuple[int, int, int, int]:
        """``(top, bottom, left, right)`` of a square inside the frame around ``box`` (or the centre)."""
        height, width = shape
        if box is None:
            side, cy, cx = min(height, width), height / 2, width / 2
        else:
            x, y, w, h = box
            side = min(int(max(w, h) * (1 + 2 * self.options.face_margin)), height, width)
            cy, cx = y + h / 2, x + w / 2
        top = int(np.clip(round(cy - side / 2), 0, height - side))
        left = int(np.clip(round(cx - side / 2), 0, width - side))
        return top, top + side, left, left + side
