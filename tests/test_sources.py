"""Frame sources on files, folders, globs and numpy arrays, and their one-line errors."""

import logging
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from autotrack.sources import (
    ArraySource,
    ImageSource,
    LiveSource,
    RealTimeSource,
    SourceError,
    VideoSource,
    list_images,
    open_source,
)

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


@pytest.fixture
def data() -> Path:
    if not DATA.is_dir():
        pytest.skip(f"shared test data not found at {DATA}")
    return DATA


def gray_frames(count: int, width: int = 64, height: int = 48) -> list[np.ndarray]:
    """Frames whose gray level is 8 * their index, so order and identity survive JPEG compression."""
    return [np.full((height, width, 3), 8 * i, np.uint8) for i in range(count)]


def write_mjpeg_avi(path: Path, frames: list[np.ndarray]) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, frames[0].shape[1::-1])
    for frame in frames:
        writer.write(frame)
    writer.release()


def corrupt_avi_frames(path: Path, *indices: int) -> None:
    """Overwrite the JPEG data of some frames of an MJPEG AVI with zeros (their chunk headers stay intact)."""
    data = bytearray(path.read_bytes())
    chunks, at = [], data.find(b"00dc")
    while at >= 0:
        size = struct.unpack("<I", data[at + 4 : at + 8])[0]
        if data[at + 8 : at + 10] == b"\xff\xd8":  # a frame chunk (not the index entry with the same tag)
            chunks.append((at + 8, size))
        at = data.find(b"00dc", at + 4)
    for index in indices:
        start, size = chunks[index]
        data[start : start + size] = bytes(size)
    path.write_bytes(bytes(data))


# --- video files ---


def test_video_file_reads_every_frame_with_size_fps_and_times(data):
    path = data / "videos" / "bedroom.mp4"
    reference = cv2.VideoCapture(str(path))
    with open_source(path) as source:
        assert isinstance(source, VideoSource)
        assert (source.size, source.fps, source.total) == ((960, 540), 30.0, 200)
        count = 0
        for frame in source:
            ok, expected = reference.read()
            assert ok and np.array_equal(frame.image, expected)
            assert frame.index == count
            assert frame.timestamp == pytest.approx(count / 30.0)
            count += 1
        assert frame.image.shape == (540, 960, 3) and frame.image.dtype == np.uint8
    assert count == 200
    assert source.stats.dropped == 0 and source.stats.input_fps > 0
    assert not reference.read()[0]


def test_video_skips_and_counts_an_undecodable_frame_in_the_middle(tmp_path, caplog):
    path = tmp_path / "clip.avi"
    write_mjpeg_avi(path, gray_frames(12))
    corrupt_avi_frames(path, 5)
    with caplog.at_level(logging.WARNING), VideoSource(path) as source:
        frames = list(source)
    assert [f.index for f in frames] == [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11]
    # each frame is the one its index names (gray level 8 * index, give or take JPEG rounding)
    assert all(abs(int(f.image.mean()) - 8 * f.index) <= 3 for f in frames)
    assert source.stats.dropped == 1
    assert "skipped undecodable frame(s) 5" in caplog.text


def test_video_with_an_undecodable_tail_counts_the_missing_frames(tmp_path, caplog):
    path = tmp_path / "clip.avi"
    write_mjpeg_avi(path, gray_frames(12))
    corrupt_avi_frames(path, 10, 11)
    with caplog.at_level(logging.WARNING), VideoSource(path) as source:
        assert [f.index for f in source] == list(range(10))
    assert source.stats.dropped == 2
    assert "frames 10 to 11 cannot be decoded" in caplog.text


def test_missing_video_file():
    with pytest.raises(SourceError, match="no such video file or image folder: .*nowhere.mp4"):
        open_source("/nonexistent/nowhere.mp4")


def test_file_that_is_not_a_video(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 100)
    with pytest.raises(SourceError, match=r"cannot decode .*notes.mp4: not a video"):
        open_source(path)


# --- image folders and globs ---


def test_image_folder_and_glob_read_davis_frames_in_order(data):
    folder = data / "davis2016" / "JPEGImages" / "480p" / "car-shadow"
    files = sorted(folder.glob("*.jpg"))
    with open_source(folder, fps=24) as source:
        assert isinstance(source, ImageSource)
        assert (source.size, source.fps, source.total) == ((854, 480), 24.0, len(files))
        frames = list(source)
    assert [f.index for f in frames] == list(range(len(files)))
    assert frames[-1].timestamp == pytest.approx((len(files) - 1) / 24)
    for frame, file in zip(frames[::10], files[::10]):
        assert np.array_equal(frame.image, cv2.imread(str(file)))

    with open_source(str(folder / "*.jpg")) as from_glob:
        assert from_glob.paths == files
        first = next(iter(from_glob))
        assert np.array_equal(first.image, frames[0].image)


def test_images_are_in_natural_order_and_other_files_are_ignored(tmp_path):
    for i in (10, 2, 1):
        cv2.imwrite(str(tmp_path / f"frame{i}.png"), gray_frames(11)[i])
    (tmp_path / "notes.txt").write_text("not a frame")
    assert [p.name for p in list_images(tmp_path)] == ["frame1.png", "frame2.png", "frame10.png"]
    with open_source(tmp_path) as source:
        assert [int(f.image[0, 0, 0]) for f in source] == [8, 16, 80]


def test_undecodable_image_in_the_middle_is_skipped_and_counted(tmp_path, caplog):
    for i, frame in enumerate(gray_frames(4)):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), frame)
    (tmp_path / "002.png").write_bytes(b"broken")
    with caplog.at_level(logging.WARNING), open_source(tmp_path) as source:
        assert [f.index for f in source] == [0, 1, 3]
    assert source.stats.dropped == 1
    assert "skipped frame 2" in caplog.text and "002.png" in caplog.text


def test_image_errors(tmp_path):
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(SourceError, match="no images in folder"):
        open_source(tmp_path)
    with pytest.raises(SourceError, match=r"no images matching .*\*.jpg"):
        open_source(str(tmp_path / "*.jpg"))
    (tmp_path / "000.jpg").write_bytes(b"broken")
    with pytest.raises(SourceError, match="cannot decode image .*000.jpg"):
        open_source(tmp_path)
    cv2.imwrite(str(tmp_path / "000.jpg"), np.zeros((48, 64, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "001.jpg"), np.zeros((50, 64, 3), np.uint8))
    with pytest.raises(SourceError, match=r"001.jpg is 64x50, but the sequence is 64x48 \(frame 1\)"):
        list(open_source(tmp_path))


# --- numpy frames ---


def test_numpy_frames_from_a_list_a_generator_and_an_array():
    frames = gray_frames(5)
    with open_source(frames, fps=10) as source:
        assert isinstance(source, ArraySource) and source.total == 5
        got = list(source)
    assert [f.index for f in got] == [0, 1, 2, 3, 4]
    assert [f.timestamp for f in got] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert all(f.image is frame for f, frame in zip(got, frames))
    assert source.size == (64, 48)

    generated = open_source(frame for frame in frames)
    assert generated.total is None and len(list(generated)) == 5
    stacked = open_source(np.stack(frames))
    assert stacked.total == 5 and [int(f.image[0, 0, 0]) for f in stacked] == [0, 8, 16, 24, 32]


def test_bad_numpy_frames_name_the_frame():
    frames = gray_frames(3)
    expected = r"frame 2: expected an HxWx3 BGR uint8 array, got shape \(48, 64, 3\) float32"
    with pytest.raises(SourceError, match=expected):
        list(open_source(frames[:2] + [frames[2].astype(np.float32)]))
    with pytest.raises(SourceError, match="frame 1: .* got str"):
        list(open_source([frames[0], "nope"]))
    with pytest.raises(SourceError, match="frame 1 is 32x48, but frame 0 was 64x48"):
        list(open_source([frames[0], frames[1][:, :32]]))


# --- dispatch ---


def test_open_source_rejects_what_it_cannot_read():
    with pytest.raises(SourceError, match="cannot read frames from a float"):
        open_source(1.5)
    with pytest.raises(SourceError, match="unknown policy 'newest'"):
        LiveSource("rtsp://127.0.0.1:1/x", policy="newest")
    with pytest.raises(SourceError, match="ArraySource: got an unexpected keyword argument 'policy'"):
        open_source(gray_frames(2), policy="all")
    with pytest.raises(SourceError, match="cannot open webcam 99"):
        open_source("99")


class FakeClock:
    """time.monotonic and time.sleep for RealTimeSource: the consumer's work advances the clock, not the test's."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_real_time_source_waits_for_each_frame_and_skips_those_a_slow_consumer_missed():
    frames = [np.full((4, 4, 3), i, np.uint8) for i in range(20)]
    clock = FakeClock()
    source = RealTimeSource(ArraySource(frames, fps=10), clock=clock, sleep=clock.sleep)
    taken = []
    for frame in source:
        taken.append((frame.index, round(clock.now - 100.0, 3)))
        clock.now += 0.25 if frame.index < 10 else 0.01  # slow for 10 frames (2.5 frame times each), then fast
    indices = [index for index, _ in taken]
    # never early: each frame is given at or after its time (index / fps)
    assert all(at >= index / 10 - 1e-9 for index, at in taken)
    # slow: only the newest due frame, every second or third; fast: every frame, at its time
    assert indices[:5] == [0, 2, 5, 7, 10] and indices[-9:] == list(range(11, 20))
    assert source.stats.dropped == 20 - len(taken) > 0
    assert taken[-1][1] == pytest.approx(1.9)


def test_real_time_source_resumes_where_it_was_after_resync():
    clock = FakeClock()
    source = RealTimeSource(ArraySource([np.zeros((4, 4, 3), np.uint8)] * 6, fps=5), clock=clock, sleep=clock.sleep)
    stream = iter(source)
    assert next(stream).index == 0
    clock.now += 60.0  # paused for a minute
    source.resync()
    assert [frame.index for frame in stream] == [1, 2, 3, 4, 5]
    assert source.stats.dropped == 0
