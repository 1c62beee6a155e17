"""The console's HTTP/WebSocket API without a browser, against the RTSP test server, and its safe defaults.

The console runs in a thread on 127.0.0.1 with the manual pipeline and random SAM2 weights at imgsz 64.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest
from click.testing import CliRunner
from live_stream import free_port
from serve_helpers import running_console, wait_for
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from autotrack.cli import main
from autotrack.eval.synthetic import make_scenario, write_scenario
from autotrack.serve import check_host
from autotrack.serve.security import MAX_BODY, ServeError

pytestmark = pytest.mark.timeout(120)

BOX = [100, 60, 220, 180]


def websocket_url(base: str, path: str) -> str:
    return "ws://" + base.removeprefix("http://") + path


def frames(ws, count: int = 1000):
    """The frame messages of a JSON-only stream, at most `count` messages (any message may take 10 s to come)."""
    for _ in range(count):
        message = json.loads(ws.recv(timeout=10))
        if message["type"] == "frame":
            yield message


def row(frame: dict, object_id: int) -> dict | None:
    return next((o for o in frame["objects"] if o["id"] == object_id), None)


def test_add_a_source_prompt_a_box_stream_json_per_frame_and_remove_the_object(server, tmp_path, one_torch_thread):
    with running_console(tmp_path) as base, httpx.Client(base_url=base, timeout=30) as http:
        assert http.get("/api/sources").json() == []
        added = http.post("/api/sources", json={"source": server.url})
        assert added.status_code == 201 and added.json()["id"] == f"127.0.0.1-{server.port}-test"
        assert added.json()["detector"] is False  # manual-sam2: the page shows no detector-classes form
        source = "/api/sources/" + added.json()["id"]
        # a path that does not exist is refused; a file that cannot be opened fails alone, with one line, and the
        # stream goes on
        missing = http.post("/api/sources", json={"source": str(tmp_path / "missing.mp4")})
        assert missing.status_code == 400 and "no such file or folder" in missing.json()["detail"]
        (tmp_path / "junk.mp4").write_bytes(b"not a video")
        assert http.post("/api/sources", json={"source": str(tmp_path / "junk.mp4")}).status_code == 201
        failed = wait_for(lambda: http.get("/api/sources/junk").json()["state"] == "failed", 30,
                          "the junk file's failure")
        error = http.get("/api/sources/junk").json()["error"]
        assert failed and "cannot" in error and "\n" not in error

        with connect(websocket_url(base, source + "/stream?images=false")) as ws:
            hello = json.loads(ws.recv(timeout=30))
            assert hello["type"] == "hello" and hello["source"] == server.url
            first = next(frames(ws))  # the stream is running
            assert first["width"] == 320 and first["height"] == 240 and first["objects"] == []

            prompted = http.post(source + "/objects", json={"box": BOX, "class": "thing"})
            assert prompted.status_code == 202
            object_id = prompted.json()["id"]
            seen = []  # frames until the object has been followed for a frame (frames sent before it came first)
            for frame in frames(ws):
                seen.append(frame)
                if (row(frame, object_id) or {}).get("age", 0) > 0:
                    break
            born = [e for f in seen for e in f["events"] if e["kind"] == "born"]
            assert born and born[0]["id"] == object_id and born[0]["reason"] == "user prompt"
            last = row(seen[-1], object_id)
            assert last["class"] == "thing" and last["status"] == "tracked" and last["age"] > 0
            assert 0 <= last["affinity"] <= 1 and 0 <= last["occurrence"] <= 1
            assert last["outline"] and len(last["box"]) == 4
            assert [f["frame"] for f in seen] == sorted(f["frame"] for f in seen)
            assert seen[-1]["stats"]["frames"] > first["stats"]["frames"]

            assert http.delete(f"{source}/objects/{object_id}").status_code == 202
            after = []
            for frame in frames(ws):
                after.append(frame)
                if row(frame, object_id) is None:
                    break
            assert [(e["kind"], e["id"]) for f in after for e in f["events"]] == [("removed", object_id)]
            assert http.delete(f"{source}/objects/{object_id}").status_code == 404  # retired
            assert http.post(source + "/objects", json={"id": object_id, "box": BOX}).status_code == 404

        files = [f["path"] for f in http.get(source + "/files").json()]
        assert {"run-1/tracks.json", "run-1/tracks.txt", "run-1/tracks.classes.csv"} == set(files)
        mot = http.get(source + "/files/run-1/tracks.txt").text.splitlines()
        assert mot and {line.split(",")[1] for line in mot} == {str(object_id)}
        assert http.get(source + "/frame.jpg").headers["content-type"] == "image/jpeg"
        assert http.get(source + "/gallery").json() == []  # re-identification is off: nothing to merge or split
        off = http.post(source + "/merge", json={"keep": 1, "merge": 2})
        assert off.status_code == 409 and "re-identification is off" in off.json()["detail"]
        no_detector = http.put(source + "/classes", json={"classes": ["car"]})
        assert no_detector.status_code == 400 and "no detector" in no_detector.json()["detail"]
        assert http.post(source + "/stop").json()["state"] in ("running", "stopped")
        wait_for(lambda: http.get(source).json()["state"] == "stopped", 30, "the stop")
        assert http.post(source + "/objects", json={"box": BOX}).status_code == 409  # not running
        api = http.get("/openapi.json").json()["paths"]
        assert {"/api/sources", "/api/sources/{source_id}/objects", "/api/sources/{source_id}/classes",
                "/api/sources/{source_id}/files/{path}"} <= set(api)


def test_a_token_is_needed_on_every_request_and_websocket(tmp_path):
    # what `--host 0.0.0.0 --token T` serves (tests bind to 127.0.0.1 only)
    with pytest.raises(ServeError, match="--token"):
        check_host("0.0.0.0", None)
    check_host("0.0.0.0", "T")
    check_host("127.0.0.1", None)
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--port", str(free_port())], env={})
    assert result.exit_code == 1 and "--token" in result.output

    with running_console(tmp_path, token="T") as base, httpx.Client(base_url=base, timeout=30) as http:
        for path in ("/", "/api/sources", "/openapi.json", "/static/source.js", "/api/sources/x/files/a.txt"):
            assert http.get(path).status_code == 401, path
            assert http.get(path, params={"token": "wrong"}).status_code == 401, path
        assert http.post("/api/sources", json={"source": "x.mp4"}).status_code == 401
        assert http.get("/api/sources", headers={"Authorization": "Bearer T"}).json() == []
        assert http.get("/", params={"token": "T"}).status_code == 200
        with pytest.raises(InvalidStatus) as refused:
            connect(websocket_url(base, "/api/sources/x/stream"))
        assert refused.value.response.status_code == 401


def test_downloads_come_only_from_the_source_folder_and_requests_are_bounded(tmp_path):
    (tmp_path / "secret.txt").write_text("not for download")
    with running_console(tmp_path / "out", max_sources=2) as base, httpx.Client(base_url=base, timeout=30) as http:
        for name in ("a", "b", "c"):
            (tmp_path / f"{name}.mp4").write_bytes(b"not a video")
        http.post("/api/sources", json={"source": str(tmp_path / "a.mp4")})  # fails (not a video): a folder stays
        wait_for(lambda: http.get("/api/sources/a").json()["state"] == "failed", 30, "the failure")
        (tmp_path / "out" / "a" / "run-1").mkdir(parents=True, exist_ok=True)
        (tmp_path / "out" / "a" / "run-1" / "tracks.txt").write_text("1,1,0,0,1,1,1,-1,-1,-1\n")
        assert http.get("/api/sources/a/files/run-1/tracks.txt").text.startswith("1,1,")
        for path in ("../../secret.txt", "%2e%2e/%2e%2e/secret.txt", "..%2F..%2Fsecret.txt", "/etc/passwd",
                     "%2Fetc%2Fpasswd", "run-1/../../../secret.txt"):
            response = http.get("/api/sources/a/files/" + path)
            assert response.status_code == 404 and "not for download" not in response.text, path

        assert http.post("/api/sources", json={"source": "x" * 3000}).status_code == 422
        too_big = http.post("/api/sources", content=b'{"source": "' + b"x" * MAX_BODY + b'"}',
                            headers={"Content-Type": "application/json"})
        assert too_big.status_code == 413
        assert http.post("/api/sources", json={"source": str(tmp_path / "b.mp4")}).status_code == 201
        full = http.post("/api/sources", json={"source": str(tmp_path / "c.mp4")})
        assert full.status_code == 409 and "at most 2 sources" in full.json()["detail"]
        many_points = {"points": [[1, 1]] * 100}
        assert http.post("/api/sources/a/objects", json=many_points).status_code == 422
        assert http.post("/api/sources/a/objects", json={"box": [5, 5, 1, 1]}).status_code == 422
        assert http.post("/api/sources/nope/objects", json={"box": BOX}).status_code == 404
        assert http.delete("/api/sources/b").status_code == 204
        assert [s["id"] for s in http.get("/api/sources").json()] == ["a"]


def test_a_recording_plays_live_pauses_where_it_was_and_takes_new_detector_classes(tmp_path, one_torch_thread):
    clip = write_scenario(make_scenario("mixed", n_frames=300, size=(160, 120), seed=3), tmp_path / "clip").video
    detector = {"pipeline": "yolo-sam2", "overrides": {"detector.weights": "random", "detector.imgsz": 64,
                                                       "sam.weights": "random", "sam.imgsz": 64, "device": "cpu"}}
    with running_console(tmp_path / "out", sources=(str(clip),), pipeline=detector) as base, \
            httpx.Client(base_url=base, timeout=30) as http:
        source = "/api/sources/video"
        with connect(websocket_url(base, source + "/stream?images=false")) as ws:
            running = next(f for f in frames(ws) if f["stats"]["frames"] >= 3)  # past the slow first frames
            assert running["stats"]["input_fps"] == 30  # the recording's own rate

            changed = http.put(source + "/classes", json={"classes": ["car", "person"]})
            assert changed.status_code == 200
            unknown = http.put(source + "/classes", json={"classes": ["unicorn"]})
            assert unknown.status_code == 400 and "unknown class 'unicorn'" in unknown.json()["detail"]
            assert http.put(source + "/classes", json={"classes": None}).status_code == 200

            assert http.post(source + "/pause").json()["state"] == "paused"

            def settled() -> tuple[int] | None:  # the frame in progress when it paused is finished
                before = http.get(source).json()["frame"]
                time.sleep(1.0)
                return (before,) if http.get(source).json()["frame"] == before else None

            (paused_at,) = wait_for(settled, 30, "the pause")
            time.sleep(1.5)  # 45 frames of the recording
            assert http.get(source).json()["frame"] == paused_at
            assert http.post(source + "/start").json()["state"] == "running"
            resumed = next(f for f in frames(ws) if f["frame"] > paused_at)
            assert resumed["frame"] <= paused_at + 10  # where it was, not 45 frames on
        kinds = [(e["kind"], e["reason"]) for e in http.get(source + "/events").json()]
        assert ("classes", "car, person") in kinds and ("classes", "all classes") in kinds
        assert [k for k, _ in kinds if k in ("paused", "resumed")] == ["paused", "resumed"]


def test_prompts_out_of_range_are_refused_with_the_reason_and_the_source_keeps_running(tmp_path, one_torch_thread):
    clip = write_scenario(make_scenario("crossing", n_frames=300, size=(160, 120), seed=0), tmp_path / "clip").video
    with running_console(tmp_path / "out", sources=(str(clip),)) as base, \
            httpx.Client(base_url=base, timeout=30) as http:
        source = "/api/sources/" + wait_for(lambda: http.get("/api/sources").json(), 30, "the source")[0]["id"]
        wait_for(lambda: http.get(source).json()["frame"] is not None, 60, "the first frame")
        refused = {  # body -> a part of the reason
            '{"box": [1, 2, NaN, 40]}': "finite numbers within float32's range",
            '{"box": [1, 2, Infinity, 40]}': "finite numbers within float32's range",
            '{"box": [0, 0, 1e39, 40]}': "finite numbers within float32's range",
            '{"points": [[NaN, 5]]}': "finite numbers within float32's range",
            '{"points": [[5, 1e39]]}': "finite numbers within float32's range",
            '{"box": [0, 0, 100000, 40]}': "lies far outside the 160x120 frame",
            '{"id": 4294967296, "box": [1, 2, 30, 40]}': "less than or equal to 2147483647",
        }
        for body, reason in refused.items():
            answer = http.post(source + "/objects", content=body, headers={"Content-Type": "application/json"})
            assert answer.status_code == 422 and reason in answer.text, (body, answer.status_code, answer.text)
        frame = http.get(source).json()["frame"]
        wait_for(lambda: http.get(source).json()["frame"] > frame, 30, "the next frame")
        assert http.get(source).json()["state"] == "running"
        assert http.post(source + "/objects", json={"box": [20, 20, 60, 60]}).status_code == 202
