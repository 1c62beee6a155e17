"""A camera list: checked in one line before any model loads, started with the console, written back atomically."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml
from click.testing import CliRunner
from serve_helpers import running_console, wait_for

import autotrack.pipeline.build as build
from autotrack.cli import main
from autotrack.eval.synthetic import make_scenario, write_scenario
from autotrack.serve import Console, RunOptions
from autotrack.serve.cameras import Camera, CameraError, check_cameras, read_cameras, write_cameras

pytestmark = pytest.mark.timeout(120)

SMALL = {"sam.weights": "random", "sam.imgsz": 64, "device": "cpu"}


def write(path, text: str):
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, message", [
    ("cameras: [", "is not valid YAML"),
    ("- name: a\n  url: a.mp4\n", "must be a mapping with one key, cameras"),
    ("cameras:\n  - name: a\n    url: a.mp4\n    colour: red\n", "unknown key 'colour'"),
    ("cameras:\n  - url: a.mp4\n", "needs a name and a url"),
    ("cameras:\n  - {name: a, url: a.mp4}\n  - {name: a, url: b.mp4}\n", "names must be unique; a appear"),
    ("cameras:\n  - {name: ../a, url: a.mp4}\n", "a name is 1-48 letters"),
    ("cameras:\n  - {name: a, url: a.mp4, fps: 0}\n", "fps must be a positive number"),
    ("cameras:\n  - {name: a, url: a.mp4, outputs: [mot, gif]}\n", "outputs are a list of mot, json, video"),
    ("cameras:\n  - {name: a, url: 'rtsp://${AUTOTRACK_CAMERA_NOT_SET}@h/s'}\n",
     "environment variable AUTOTRACK_CAMERA_NOT_SET is not set"),
    ("cameras:\n  - {name: a, url: 'rtsp://h/s?k=${HOME}'}\n", "reads only variables named AUTOTRACK_CAMERA_*, not HOME"),
])
def test_a_bad_camera_list_fails_in_one_line(tmp_path, text, message):
    with pytest.raises(CameraError, match=message.replace("*", r"\*").replace("$", r"\$")) as error:
        read_cameras(write(tmp_path / "cameras.yaml", text))
    assert "\n" not in str(error.value)


def test_the_command_refuses_a_bad_list_before_any_model_loads(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "load_models", lambda *args: pytest.fail("a model was loaded"))
    cameras = write(tmp_path / "cameras.yaml", "cameras:\n  - {name: a, url: a.mp4, pipeline: manual-sam2, "
                                               "classes: [car]}\n")
    result = CliRunner().invoke(main, ["serve", "--cameras", str(cameras)])
    assert result.exit_code == 1 and result.output.strip().splitlines() == [
        "Error: camera 'a': pipeline manual-sam2 has no detector for its classes or text"]
    for text, message in [("cameras:\n  - {name: a, url: a.mp4, pipeline: nope}\n", "unknown pipeline 'nope'"),
                          ("cameras:\n  - {name: a, url: a.mp4, pipeline: edge-cpu}\n", "camera 'a': imgsz must be a positive multiple of 256"),
                          ("cameras:\n  - {name: a, url: a.mp4, pipeline: yolo-sam2}\n", "missing.pt")]:
        result = CliRunner().invoke(main, ["serve", "--cameras", str(write(cameras, text)), "--imgsz", "100"
                                           if "256" in message else "64", "--sam-weights", "missing.pt"])
        assert result.exit_code == 1 and message in result.output and len(result.output.splitlines()) == 1, \
            result.output
    both = CliRunner().invoke(main, ["serve", "--cameras", str(cameras), "video.mp4"])
    assert both.exit_code == 2 and "not both" in both.output


def test_credentials_come_from_the_environment_and_the_file_keeps_the_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOTRACK_CAMERA_PASSWORD", "s3cret")
    path = write(tmp_path / "cameras.yaml", "cameras:\n  - name: gate\n    url: rtsp://admin:${AUTOTRACK_CAMERA_PASSWORD}"
                                            "@10.0.0.1/stream\n    fps: 5\n    classes: person, car\n")
    path.chmod(0o640)
    (camera,) = read_cameras(path)
    assert camera.source() == "rtsp://admin:s3cret@10.0.0.1/stream" and camera.classes == ["person", "car"]
    write_cameras(path, [camera, Camera("yard", "yard.mp4", text="forklift")])
    assert "s3cret" not in path.read_text() and path.stat().st_mode & 0o777 == 0o640
    assert [c.name for c in read_cameras(path)] == ["gate", "yard"]
    assert yaml.safe_load(path.read_text())["cameras"][1] == {"name": "yard", "url": "yard.mp4", "text": "forklift"}
    assert [p.name for p in tmp_path.iterdir()] == ["cameras.yaml"]  # no temporary file left
    with pytest.raises(CameraError, match="no detector"):
        check_cameras([Camera("a", "a.mp4", classes=["car"])], "manual-sam2", SMALL)


def test_cameras_start_with_the_console_share_the_engine_across_pipelines_and_api_changes_are_written_back(
        tmp_path, one_torch_thread):
    clip = write_scenario(make_scenario("mixed", n_frames=300, size=(160, 120), seed=3), tmp_path / "clip").video
    path = tmp_path / "cameras.yaml"
    detector = write(tmp_path / "detector.yaml", "detector: {weights: random, imgsz: 64}\n")
    write_cameras(path, [Camera("plain", str(clip), fps=10, outputs=["mot"]),
                         Camera("detected", str(clip), pipeline=str(detector), classes=["person"])])
    options = {"pipeline": "manual-sam2", "overrides": SMALL}  # on the cameras' own pipelines too
    console = Console(RunOptions(output_dir=tmp_path / "out", **options), cameras_file=path)
    with running_console(tmp_path / "out", console=console, sources=tuple(read_cameras(path))) as base, \
            httpx.Client(base_url=base, timeout=30) as http:
        wait_for(lambda: all(s["state"] == "running" and s["frame"] is not None
                             for s in http.get("/api/sources").json()), 60, "both cameras")
        plain, detected = console.get("plain").pipeline, console.get("detected").pipeline
        assert len(console.models) == 2  # two model sets (one with a detector), one SAM
        assert plain.tracker.parts is detected.tracker.parts
        assert detected.prompter.classes == [0] and plain.prompter.__class__.__name__ == "NoPrompter"
        # the page offers the detector-classes form only where there is a detector
        assert {s["id"]: s["detector"] for s in http.get("/api/sources").json()} == {"plain": False, "detected": True}

        added = http.post("/api/sources", json={"source": str(clip), "name": "third", "fps": 2.5})
        assert added.status_code == 201 and added.json()["id"] == "third"
        assert http.post("/api/sources", json={"source": str(clip), "name": "third"}).status_code == 409
        bad = http.post("/api/sources", json={"source": str(clip), "pipeline": "nope"})
        assert bad.status_code == 400 and "unknown pipeline" in bad.json()["detail"]
        assert [c.name for c in read_cameras(path)] == ["plain", "detected", "third"]
        assert read_cameras(path)[2].fps == 2.5
        assert http.delete("/api/sources/plain").status_code == 204
        assert [c.name for c in read_cameras(path)] == ["detected", "third"]
        wait_for(lambda: console.get("third").last_frame, 60, "the added camera's first frame")
    files = {p.name for p in (tmp_path / "out" / "plain" / "run-1").iterdir()}
    assert "tracks.txt" in files and "tracks.json" not in files  # outputs: [mot]


def test_the_example_list_reads(monkeypatch):
    monkeypatch.setenv("AUTOTRACK_CAMERA_USER", "admin")
    monkeypatch.setenv("AUTOTRACK_CAMERA_PASSWORD", "s3cret")
    example = Path(__file__).resolve().parents[1] / "examples" / "cameras.yaml"
    cameras = read_cameras(example)
    assert [c.name for c in cameras] == ["gate", "yard", "sample"]
    assert cameras[0].source() == "rtsp://admin:s3cret@192.168.1.10/stream" and cameras[0].fps == 5
