"""Output retention per camera: the oldest files go first once too old or too many bytes, never the run being
written, never anything outside the camera's own folder (links are neither followed nor deleted)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from serve_helpers import wait_for

from autotrack.eval.synthetic import make_scenario, write_scenario
from autotrack.prompters.manual import ManualPrompts
from autotrack.serve import Console, RunOptions
from autotrack.serve.cameras import Camera, CameraError, read_cameras, write_cameras
from autotrack.serve.retention import Retention, sweep

pytestmark = pytest.mark.timeout(120)

NOW = 1_800_000_000.0  # the fake clock's now
DAY = 86400


def make(path: Path, size: int, age_days: float) -> Path:
    """A file of `size` bytes, last modified `age_days` before NOW."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    os.utime(path, (NOW - age_days * DAY, NOW - age_days * DAY))
    return path


def names(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() or p.is_symlink()}


@pytest.fixture
def camera_dir(tmp_path):
    """A camera's folder: three finished runs (10, 5 and 2 days old) and the run being written (old and big)."""
    folder = tmp_path / "out" / "gate"
    for run, age in (("run-1", 10), ("run-2", 5), ("run-3", 2)):
        make(folder / run / "tracks.txt", 100, age)
        make(folder / run / "tracks.json", 100, age + 0.01)
    make(folder / "run-4" / "tracks.txt", 1000, 30)  # written since long ago: the live run
    return folder


def test_files_older_than_max_age_go_never_the_run_being_written(camera_dir):
    deleted = sweep(camera_dir, Retention(max_age=3 * DAY), camera_dir / "run-4", NOW)
    assert {p.relative_to(camera_dir).as_posix() for p in deleted} == {
        "run-1/tracks.txt", "run-1/tracks.json", "run-2/tracks.txt", "run-2/tracks.json"}
    assert names(camera_dir) == {"run-3/tracks.txt", "run-3/tracks.json", "run-4/tracks.txt"}
    assert not (camera_dir / "run-1").exists() and not (camera_dir / "run-2").exists()  # emptied runs go too
    assert sweep(camera_dir, Retention(max_age=3 * DAY), camera_dir / "run-4", NOW) == []


def test_over_max_size_the_oldest_go_first_until_it_fits(camera_dir):
    # 1,600 bytes in all, the live run's 1,000 among them: 400 must go, oldest first
    deleted = sweep(camera_dir, Retention(max_size=1200), camera_dir / "run-4", NOW)
    assert [p.relative_to(camera_dir).as_posix() for p in deleted] == [
        "run-1/tracks.json", "run-1/tracks.txt", "run-2/tracks.json", "run-2/tracks.txt"]
    # a limit the live run alone exceeds: every other file goes, the live run stays
    sweep(camera_dir, Retention(max_size=500), camera_dir / "run-4", NOW)
    assert names(camera_dir) == {"run-4/tracks.txt"}
    # once the run is over (no run going on), it goes too
    sweep(camera_dir, Retention(max_size=500), None, NOW)
    assert names(camera_dir) == set() and camera_dir.is_dir()


def test_nothing_outside_the_camera_folder_is_touched_and_links_are_not_followed(camera_dir, tmp_path):
    outside = tmp_path / "elsewhere"
    precious = make(outside / "precious.txt", 5000, 100)
    other_camera = make(tmp_path / "out" / "yard" / "run-1" / "tracks.txt", 5000, 100)
    (camera_dir / "run-2" / "link.txt").symlink_to(precious)  # a link to a file outside
    (camera_dir / "linked-folder").symlink_to(outside, target_is_directory=True)  # a link to a folder outside
    sweep(camera_dir, Retention(max_age=DAY, max_size=1), None, NOW)
    assert precious.is_file() and other_camera.is_file()
    assert names(camera_dir) == {"run-2/link.txt", "linked-folder"}  # links stay, as they are
    assert sweep(tmp_path / "no-such-camera", Retention(max_age=1), None, NOW) == []


def test_a_link_to_the_camera_folder_is_swept_where_it_leads(camera_dir, tmp_path):
    link = tmp_path / "gate-link"
    link.symlink_to(camera_dir, target_is_directory=True)
    sweep(link, Retention(max_age=3 * DAY), link / "run-4", NOW)  # keep given through the link: still kept
    assert names(camera_dir) == {"run-3/tracks.txt", "run-3/tracks.json", "run-4/tracks.txt"}


@pytest.mark.parametrize("data, expected", [
    ({"max_age": "7d", "max_size": "2GB"}, Retention(7 * DAY, 2 * 10**9)),
    ({"max_age": "12h"}, Retention(max_age=12 * 3600)),
    ({"max_age": "1.5w"}, Retention(max_age=1.5 * 7 * DAY)),
    ({"max_age": 90}, Retention(max_age=90)),
    ({"max_size": "500 MiB"}, Retention(max_size=500 * 2**20)),
    ({"max_size": 1000}, Retention(max_size=1000)),
])
def test_retention_reads_ages_and_sizes_with_units(data, expected):
    assert Retention.parse(data, "retention") == expected


@pytest.mark.parametrize("retention, message", [
    ({}, "retention is a mapping with max_age"),
    ({"max_days": 3}, "retention is a mapping with max_age"),
    ("7d", "retention is a mapping with max_age"),
    ({"max_age": "7 days"}, r"retention max_age is a positive number with a unit \(s, m, h, d, w\)"),
    ({"max_age": 0}, "retention max_age is a positive number"),
    ({"max_size": "2 GO"}, "retention max_size is a positive number"),
    ({"max_size": True}, "retention max_size is a positive number"),
])
def test_a_bad_retention_fails_in_one_line(tmp_path, retention, message):
    with pytest.raises(CameraError, match=f"camera 'gate': {message}"):
        Camera("gate", "a.mp4", retention=retention)


def test_the_camera_list_keeps_the_retention_as_written(tmp_path):
    path = tmp_path / "cameras.yaml"
    write_cameras(path, [Camera("gate", "a.mp4", retention={"max_age": "7d", "max_size": "2GB"}), Camera("b", "b")])
    assert "max_age: 7d" in path.read_text()
    cameras = read_cameras(path)
    assert cameras[0].retention_rule() == Retention(7 * DAY, 2 * 10**9) and cameras[1].retention_rule() is None


def test_a_run_sweeps_its_camera_as_it_starts_and_never_its_own_files(tmp_path, one_torch_thread):
    clip = write_scenario(make_scenario("mixed", n_frames=300, size=(160, 120), seed=3), tmp_path / "clip").video
    old = tmp_path / "out" / "gate" / "run-1" / "tracks.txt"
    old.parent.mkdir(parents=True)
    old.write_text("1,1,0,0,1,1,1,-1,-1,-1\n")
    os.utime(old, (time.time() - 10 * DAY, time.time() - 10 * DAY))
    options = RunOptions("manual-sam2", {"sam.weights": "random", "sam.imgsz": 64, "device": "cpu"},
                         prompts=ManualPrompts.from_options(["40,30,90,80"]), output_dir=tmp_path / "out")
    console = Console(options)
    try:
        worker = console.add(Camera("gate", str(clip), retention={"max_age": "1d"}))
        assert not old.exists() and worker.folder.name == "run-2"  # swept as the run started
        wait_for(lambda: worker.last_frame and (worker.folder / "tracks.txt").is_file(), 60, "the run's files")
        assert worker.sweep(now=time.time() + 100 * DAY) == []  # the run being written is never swept
        assert (worker.folder / "tracks.txt").is_file()
    finally:
        console.close()
    assert [p.name for p in worker.sweep(now=time.time() + 100 * DAY)] != []  # once it ended, it can go
    assert not worker.source_dir.joinpath("run-2").exists()
