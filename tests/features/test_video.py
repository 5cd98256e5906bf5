"""Video frames: decode mp4/avi written by cv2.VideoWriter, sample N fps, face or centre crop, 96x96."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from emomtl.features import create_extractor
from emomtl.features import video as video_module
from emomtl.features.video import VideoError, VideoExtractor, VideoWarning, haar_cascade_path

WIDTH, HEIGHT, SOURCE_FPS = 160, 120, 10.0
pytestmark = pytest.mark.filterwarnings("ignore::emomtl.features.video.VideoWarning")
needs_haar = pytest.mark.skipif(haar_cascade_path() is None, reason="this OpenCV build has no Haar cascade (OpenCV 5)")


def cartoon_face(cx: int, cy: int, s: int = 60, height: int = 240, width: int = 320) -> np.ndarray:
    """A drawn frontal face (skin ellipse, brows, eyes, nose, mouth) that the Haar cascade detects."""
    image = np.full((height, width, 3), 90, np.uint8)
    cv2.ellipse(image, (cx, cy), (s, int(s * 1.3)), 0, 0, 360, (150, 170, 210), -1)
    for side in (-1, 1):
        ex, ey = cx + side * int(s * 0.4), cy - int(s * 0.25)
        cv2.ellipse(image, (ex, ey - int(s * 0.2)), (int(s * 0.28), int(s * 0.07)), 0, 180, 360, (40, 40, 60), -1)
        cv2.ellipse(image, (ex, ey), (int(s * 0.2), int(s * 0.1)), 0, 0, 360, (255, 255, 255), -1)
        cv2.circle(image, (ex, ey), int(s * 0.08), (30, 20, 20), -1)
    cv2.ellipse(image, (cx, cy + int(s * 0.15)), (int(s * 0.1), int(s * 0.25)), 0, 0, 360, (120, 140, 185), -1)
    cv2.ellipse(image, (cx, cy + int(s * 0.6)), (int(s * 0.35), int(s * 0.12)), 0, 0, 360, (60, 50, 120), -1)
    return cv2.GaussianBlur(image, (5, 5), 0)


def write_video(path: Path, seconds: float = 2.0, fourcc: str = "mp4v") -> Path:
    """Grey frames with a bright blue square at a known place (x 100-140, y 20-60)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), SOURCE_FPS, (WIDTH, HEIGHT))
    assert writer.isOpened()
    for index in range(int(seconds * SOURCE_FPS)):
        frame = np.full((HEIGHT, WIDTH, 3), 60 + index, dtype=np.uint8)
        frame[20:60, 100:140] = (255, 0, 0)  # BGR blue
        writer.write(frame)
    writer.release()
    return path


@pytest.mark.parametrize(("name", "fourcc"), [("clip.mp4", "mp4v"), ("clip.avi", "MJPG")])
def test_frames_are_sampled_and_resized(tmp_path: Path, name: str, fourcc: str) -> None:
    path = write_video(tmp_path / name, fourcc=fourcc)
    extractor = create_extractor({"kind": "video", "fps": 5})
    frames = extractor.from_path(path)
    assert frames.shape == (10, 3, 96, 96) and frames.dtype == np.uint8
    assert extractor.input_name == "video" and extractor.frames_per_second == 5.0
    assert extractor.face_counts["frames"] == 10
    assert extractor.face_counts["centre_fallback"] == 10  # no face in synthetic frames: centre crop, counted


def test_float_output_and_frame_limit(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.mp4")
    frames = create_extractor({"kind": "video", "fps": 10, "dtype": "float32", "max_frames": 4, "size": 48}).from_path(
        path
    )
    assert frames.shape == (4, 3, 48, 48) and frames.dtype == np.float32
    assert 0.0 <= frames.min() and frames.max() <= 1.0


def test_face_box_is_cropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_video(tmp_path / "clip.mp4", seconds=0.5)
    extractor = create_extractor({"kind": "video", "fps": 10, "face_margin": 0.0})
    monkeypatch.setattr(VideoExtractor, "_detect_face", lambda self, frame: (100, 20, 40, 40))
    frames = extractor.from_path(path)
    assert extractor.face_counts["face"] == len(frames) == 5
    red, green, blue = (frames[:, channel, 10:-10, 10:-10].mean() for channel in range(3))
    assert blue > 200 and red < 40 and green < 40  # RGB order, the square fills the crop


@needs_haar
def test_haar_cascade_finds_a_drawn_face_off_centre(tmp_path: Path) -> None:
    path = tmp_path / "face.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), SOURCE_FPS, (320, 240))
    for _ in range(5):
        writer.write(cartoon_face(cx=110, cy=125))
    writer.release()
    extractor = create_extractor({"kind": "video", "fps": 10})
    x, y, w, h = extractor._detect_face(cartoon_face(cx=110, cy=125))
    assert abs(x + w / 2 - 110) < 15 and abs(y + h / 2 - 125) < 25
    frames = extractor.from_path(path)
    assert frames.shape == (5, 3, 96, 96) and extractor.face_counts["face"] == 5
    noise = np.random.default_rng(0).integers(0, 255, size=(240, 320, 3), dtype=np.uint8)
    assert extractor._detect_face(noise) is None


def test_without_haar_cascade_frames_are_centre_cropped_and_keyed_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_video(tmp_path / "clip.mp4", seconds=0.5)
    monkeypatch.setattr(video_module, "haar_cascade_path", lambda: None)
    extractor = create_extractor({"kind": "video", "fps": 10})
    with pytest.warns(VideoWarning, match="no Haar cascade"):
        frames = extractor.from_path(path)
    assert frames.shape == (5, 3, 96, 96) and extractor.face_counts["centre_fallback"] == 5
    assert extractor.cache_identity()["face_detector"] == "none"
    assert "face_detector" not in create_extractor({"kind": "video", "face_crop": False}).cache_identity()


def test_unreadable_video_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "broken.mp4"
    bogus.write_bytes(b"not a video at all" * 10)
    with pytest.raises(VideoError, match=r"broken\.mp4"):
        create_extractor({"kind": "video"}).from_path(bogus)
    with pytest.raises(VideoError, match=r"missing\.mp4.*not found"):
        create_extractor({"kind": "video"}).from_path(tmp_path / "missing.mp4")


# ----------------------------------------------------------------- segments of a long recording (IEMOCAP dialogs)
def test_media_fragment_names_a_time_span_and_a_frame_region(tmp_path: Path) -> None:
    from emomtl.features.video_segment import VideoSegmentError, parse_video_item, video_item

    item = video_item(tmp_path / "dialog.avi", 6.2901, 8.2357, ("percent", 50, 0, 50, 100))
    assert item == f"{tmp_path / 'dialog.avi'}#t=6.2901,8.2357&xywh=percent:50,0,50,100"
    segment = parse_video_item(item)
    assert (segment.path, segment.start, segment.end) == (tmp_path / "dialog.avi", 6.2901, 8.2357)
    assert segment.pixel_box(480, 720) == (0, 480, 360, 720)
    assert parse_video_item(tmp_path / "plain.mp4").fragment == "" and video_item("a.mp4") == "a.mp4"
    assert parse_video_item("clip.mp4#t=,2").end == 2.0 and parse_video_item("clip.mp4#t=,2").start is None
    with pytest.raises(VideoSegmentError, match="ends"):
        parse_video_item("clip.mp4#t=3,2")
    with pytest.raises(VideoSegmentError, match="xywh"):
        parse_video_item("clip.mp4#xywh=percent:1,2")


@pytest.mark.parametrize(("name", "fourcc"), [("dialog.avi", "MJPG"), ("dialog.mp4", "mp4v")])
def test_a_segment_decodes_only_its_time_span_and_region(tmp_path: Path, name: str, fourcc: str) -> None:
    from emomtl.features.video_segment import video_item

    path = write_video(tmp_path / name, seconds=2.0, fourcc=fourcc)  # frame i has grey level 60 + i, 10 fps
    extractor = create_extractor({"kind": "video", "fps": 10, "face_crop": False, "size": 40})
    whole = extractor.from_path(path)
    part = extractor.from_path(video_item(path, 0.5, 1.0))
    assert len(whole) == 20 and len(part) == 5
    np.testing.assert_allclose(part[:, :, 0, 0].astype(float), whole[5:10, :, 0, 0].astype(float), atol=3)
    right = extractor.from_path(video_item(path, 0.5, 1.0, ("percent", 50, 0, 50, 100)))
    left = extractor.from_path(video_item(path, 0.5, 1.0, ("percent", 0, 0, 50, 100)))
    def blue(frames):
        return int(((frames[:, 2] > 200) & (frames[:, 0] < 80)).sum())  # RGB: blue high, red low
    assert blue(right) > 0 and blue(left) == 0  # the blue square (x 100-140 of 160) is in the right half
    with pytest.raises(VideoError, match="between 5 s and 6 s"):
        extractor.from_path(video_item(path, 5.0, 6.0))  # past the end of the 2 s file


def test_segments_of_one_file_have_their_own_cache_keys(tmp_path: Path) -> None:
    from emomtl.features.cache import content_digest
    from emomtl.features.video_segment import video_item

    path = write_video(tmp_path / "dialog.avi", fourcc="MJPG")
    keys = {content_digest(item, "video") for item in
            (path, video_item(path, 0, 1), video_item(path, 1, 2), video_item(path, 0, 1, ("percent", 0, 0, 50, 100)))}
    assert len(keys) == 4
    assert content_digest(path, "video") == content_digest(path, "audio")  # whole files keep their old keys
