"""Re-identification in the console, through the HTTP API: the gallery (thumbnail, last seen), and merging two IDs or
splitting a wrong revival off by hand.

The console runs its real worker, scheduler and session code on scripted models (`serve_helpers.scripted_console`):
a detector that knows the world and the scripted engine, whose objects report scripted looks; a leaves, is lost
and comes back elsewhere looking as before.
"""

from __future__ import annotations

import json

import cv2
import httpx
import numpy as np
import pytest
from serve_helpers import blank_video, running_console, scripted_console, wait_for
from websockets.sync.client import connect

from autotrack.eval.mot import read_mot_file

pytestmark = pytest.mark.timeout(120)


def gallery(http: httpx.Client, source: str) -> dict[int, dict]:
    return {row["id"]: row for row in http.get(source + "/gallery").json()}


def test_the_gallery_lists_what_reid_remembers_and_the_user_splits_and_merges_ids(tmp_path):
    video = blank_video(tmp_path / "clip.mp4")
    console = scripted_console(tmp_path / "out")
    with running_console(tmp_path, console=console, sources=(video,)) as base, \
            httpx.Client(base_url=base, timeout=30) as http:
        source = "/api/sources/clip"
        statuses = []  # a's status in the object list, frame by frame, until it is revived
        with connect("ws://" + base.removeprefix("http://") + source + "/stream?images=false") as ws:
            while not statuses or statuses[-1][1] != "reidentified":
                message = json.loads(ws.recv(timeout=30))
                if message["type"] == "frame":
                    kinds = [e["kind"] for e in message["events"] if e["id"] == 1]
                    rows = [o["status"] for o in message["objects"] if o["id"] == 1]
                    statuses.append((rows, kinds[-1] if kinds else None))
        assert ["lost"] in [rows for rows, _ in statuses]  # listed as lost while away, live again once revived
        assert statuses[-1][0] == ["tracked"]
        listed = gallery(http, source)
        assert set(listed) == {1, 2}  # a (revived under its old ID) and b; a's provisional ID was never used
        assert listed[1]["status"] == "tracked" and listed[1]["revived"] and not listed[2]["revived"]
        assert listed[1]["embeddings"] >= 1 and listed[1]["seconds_ago"] >= 0 and listed[1]["thumbnail"]
        thumbnail = http.get(source + "/gallery/1.jpg")
        assert thumbnail.headers["content-type"] == "image/jpeg"
        picture = cv2.imdecode(np.frombuffer(thumbnail.content, np.uint8), cv2.IMREAD_COLOR)
        assert picture.shape[:2] == (40, 40)  # a's box
        assert http.get(source + "/gallery/99.jpg").status_code == 404

        # refused: b was never revived, b is visible, no #99 in the gallery, a live #99
        assert http.post(source + "/objects/2/split").status_code == 409
        assert http.post(source + "/merge", json={"keep": 2, "merge": 1}).status_code == 409
        assert http.post(source + "/merge", json={"keep": 99, "merge": 1}).status_code == 404
        assert http.post(source + "/objects/99/split").status_code == 404

        split = http.post(source + "/objects/1/split")
        assert split.status_code == 202
        new_id = split.json()["id"]
        wait_for(lambda: gallery(http, source).get(new_id, {}).get("status") == "tracked", 30, "the split")
        listed = gallery(http, source)
        assert listed[1]["status"] == "retired" and not listed[1]["revived"]  # #1 is again what it was on frame 29
        assert not listed[new_id]["revived"] and listed[new_id]["thumbnail"]
        split_at = next(e["frame"] for e in http.get(source + "/events").json() if e["kind"] == "split")

        merged = http.post(source + "/merge", json={"keep": 1, "merge": new_id})  # the user changes their mind
        assert merged.status_code == 202 and merged.json() == {"id": 1}
        wait_for(lambda: gallery(http, source).get(1, {}).get("status") == "tracked", 30, "the merge")
        assert new_id not in gallery(http, source) and gallery(http, source)[1]["revived"]
        events = [(e["kind"], e["id"]) for e in http.get(source + "/events").json() if e["kind"] in
                  ("reidentified", "split", "merged")]
        assert events == [("reidentified", 1), ("split", new_id), ("merged", 1)]
        merged_at = next(e["frame"] for e in http.get(source + "/events").json() if e["kind"] == "merged")
        http.post(source + "/stop")
        wait_for(lambda: http.get(source).json()["state"] == "stopped", 30, "the stop")

    rows = read_mot_file(tmp_path / "out" / "clip" / "run-1" / "tracks.txt", min_columns=10)
    a_ids = {int(frame) - 1: int(i) for frame, i, x in rows[:, :3] if x >= 150 and x < 260}  # a, once back
    assert {i for frame, i in a_ids.items() if frame < split_at} == {1}
    assert {i for frame, i in a_ids.items() if split_at <= frame < merged_at} == {new_id}
    assert {i for frame, i in a_ids.items() if frame >= merged_at} == {1}
