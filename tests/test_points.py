"""The point-tracker prompter on synthetic clips with known motion, rendered here.

A textured disc moves over a textured background by a known similarity transform per frame (translation, rotation,
scale), so the true position of every point is known; an optional textured bar (the occluder) moves the other way
across it. CoTracker3 is exercised with a tiny stand-in model that has the online predictor's inputs and outputs.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from autotrack.points.cotracker import (
    CoTrackerUnavailable,
    load_cotracker,
)
from autotrack.points.sampling import sample_points_in_mask
from autotrack.points.tracker import PointTrack, PointTracker
from autotrack.types import Prompt

H, W = 240, 320
RADIUS = 50


def texture(rng: np.random.Generator, h: int, w: int, tint=(0, 0, 0)) -> np.ndarray:
    """Fine plus coarse blurred noise: trackable everywhere, like a busy natural image."""
    fine = cv2.GaussianBlur(rng.uniform(0, 255, (h, w, 3)).astype(np.float32), (0, 0), 1.5)
    coarse = cv2.GaussianBlur(rng.uniform(0, 255, (h, w, 3)).astype(np.float32), (0, 0), 6)
    image = 2.4 * (fine - fine.mean()) + 2.4 * (coarse - coarse.mean()) + 128 + np.float32(tint)
    return np.clip(image, 0, 255).astype(np.uint8)


def similarity(t: int, velocity, degrees_per_frame: float, growth_per_frame: float) -> np.ndarray:
    """2x3 map from object-texture pixels (centre at RADIUS, RADIUS) to frame pixels at frame t."""
    angle = np.deg2rad(degrees_per_frame * t)
    scale = 1 + growth_per_frame * t
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    cx, cy = 90 + velocity[0] * t, 110 + velocity[1] * t
    return np.array([[c, -s, cx - c * RADIUS + s * RADIUS], [s, c, cy - s * RADIUS - c * RADIUS]])


@dataclass
class Clip:
    frames: list[np.ndarray]
    motions: list[np.ndarray]  # object-texture -> frame maps, one per frame
    objects: list[np.ndarray]  # the object's full mask per frame
    occluders: list[np.ndarray]  # the occluder's mask per frame

    def truth(self, points: np.ndarray, start: int, t: int) -> np.ndarray:
        """Where object points seen at frame `start` really are at frame t."""
        back = cv2.invertAffineTransform(self.motions[start])
        on_texture = points @ back[:, :2].T + back[:, 2]
        return on_texture @ self.motions[t][:, :2].T + self.motions[t][:, 2]

    def visible_object(self, t: int) -> np.ndarray:
        return self.objects[t] & ~self.occluders[t]


def render_clip(
    n: int = 40,
    velocity=(2.7, 1.3),
    degrees_per_frame: float = 0.6,
    growth_per_frame: float = 0.006,
    occluder: tuple[int, int] | None = None,
    occluder_speed: float = 8.0,
    seed: int = 0,
) -> Clip:
    """A textured disc under known motion; `occluder=(top, height)` adds a 40 px wide bar moving left."""
    rng = np.random.default_rng(seed)
    background = texture(rng, H, W)
    disc_texture = texture(rng, 2 * RADIUS, 2 * RADIUS, tint=(40, -30, 20))
    disc = np.zeros((2 * RADIUS, 2 * RADIUS), np.uint8)
    cv2.circle(disc, (RADIUS, RADIUS), RADIUS - 1, 255, -1)
    bar_texture = texture(rng, H, 40, tint=(-40, 30, 0))
    clip = Clip([], [], [], [])
    for t in range(n):
        motion = similarity(t, velocity, degrees_per_frame, growth_per_frame)
        inside = cv2.warpAffine(disc, motion, (W, H)) > 127
        frame = background.copy()
        frame[inside] = cv2.warpAffine(disc_texture, motion, (W, H))[inside]
        covered = np.zeros((H, W), bool)
        if occluder is not None:
            top, height = occluder
            left = int(round(240 - occluder_speed * t))
            x0, x1 = max(left, 0), min(left + 40, W)
            if x1 > x0:
                frame[top:top + height, x0:x1] = bar_texture[top:top + height, x0 - left:x1 - left]
                covered[top:top + height, x0:x1] = True
        clip.frames.append(frame)
        clip.motions.append(motion)
        clip.objects.append(inside)
        clip.occluders.append(covered)
    return clip


def lookup(mask: np.ndarray, points: np.ndarray) -> np.ndarray:
    """mask values at (x, y) points; False outside the frame."""
    x, y = np.round(points[:, 0]).astype(int), np.round(points[:, 1]).astype(int)
    inside = (x >= 0) & (y >= 0) & (x < mask.shape[1]) & (y < mask.shape[0])
    values = np.zeros(len(points), bool)
    values[inside] = mask[y[inside], x[inside]]
    return values


# ---------------------------------------------------------------- Lucas-Kanade


def test_lk_points_follow_translation_rotation_and_scale():
    clip = render_clip()
    prompter = PointTracker(num_points=24)
    prompter.add_from_mask(1, clip.objects[0], clip.frames[0])
    start = prompter.tracks[1].points.copy()
    assert len(start) == 24
    for t in range(1, len(clip.frames)):
        track = prompter.update(clip.frames[t])[1]
        truth = clip.truth(start, 0, t)
        errors = np.linalg.norm(track.points - truth, axis=1)[track.visible]
        assert np.median(errors) < 1.5, f"frame {t}: median error {np.median(errors):.2f} px"
    assert np.median(np.linalg.norm(truth - start, axis=1)) > 100  # the object really moved (and turned, grew)
    assert track.visible.mean() >= 0.75  # nothing occludes it, so most points survive 40 frames


def test_lk_marks_points_under_the_occluder_invisible():
    """Over nine clips (occluder speeds 2, 4, 8 px/frame; three textures) where a bar passes over the top half."""
    covered = covered_visible = visible = far_off = kept_far = total_far = 0
    for speed in (2, 4, 8):
        for seed in (0, 1, 2):
            clip = render_clip(occluder=(40, 90), occluder_speed=speed, seed=seed)
            prompter = PointTracker(num_points=32)
            prompter.add_from_mask(1, clip.objects[0], clip.frames[0])
            start = prompter.tracks[1].points.copy()
            ever_near = np.zeros(len(start), bool)  # within an LK window (10 px) of the occluder
            for t in range(1, len(clip.frames)):
                track = prompter.update(clip.frames[t])[1]
                truth = clip.truth(start, 0, t)
                # more than 3 px under the occluder's edge; nearer the edge most of the LK window still sees the
                # object and the point is followed correctly (the error checks below hold for those too)
                under = lookup(cv2.erode(clip.occluders[t].astype(np.uint8), np.ones((7, 7), np.uint8)) > 0, truth)
                near = cv2.dilate(clip.occluders[t].astype(np.uint8), np.ones((21, 21), np.uint8)) > 0
                ever_near |= lookup(near, truth)
                covered += under.sum()
                covered_visible += (track.visible & under).sum()
                errors = np.linalg.norm(track.points - truth, axis=1)[track.visible]
                assert np.median(errors) < 1.5, f"speed {speed}, seed {seed}, frame {t}: median {np.median(errors):.2f}"
                visible += len(errors)
                far_off += (errors > 4).sum()
            kept_far += track.visible[~ever_near].sum()
            total_far += (~ever_near).sum()
    assert covered > 200  # the occluder did pass over many points
    assert covered_visible <= 0.04 * covered  # 2% (without the motion check: 13%)
    assert far_off <= 0.005 * visible  # visible points are not dragged away (without the motion check: 2%)
    assert kept_far >= 0.9 * total_far  # points the occluder never came near are still followed


def count_visible(reseed: bool) -> list[int]:
    clip = render_clip(occluder=(0, H))  # the bar sweeps over the whole disc
    prompter = PointTracker(num_points=16)
    prompter.add_from_mask(1, clip.objects[0], clip.frames[0])
    counts = []
    for t in range(1, len(clip.frames)):
        track = prompter.update(clip.frames[t])[1]
        visible = clip.visible_object(t)
        on_object = lookup(cv2.dilate(visible.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0, track.points)
        assert np.all(on_object[track.visible & (track.labels == 1)]), f"frame {t}: a visible point is off the object"
        counts.append(track.num_visible_positives)  # after tracking onto this frame, before any re-seeding
        if reseed:
            prompter.reseed_from_masks({1: visible}, clip.frames[t])
    return counts


def test_reseeding_from_the_mask_keeps_enough_points_alive():
    without = count_visible(reseed=False)
    assert without[-1] == 0  # the bar sweeping over the disc kills every point ...
    with_reseed = count_visible(reseed=True)
    assert min(with_reseed) >= 4  # ... unless the prompter re-seeds from the visible mask (min_visible = 8): then
    assert with_reseed[-1] >= 12  # some survive every frame of the sweep and the disc is well covered after it


def test_objects_join_and_leave_while_others_keep_being_tracked():
    clip = render_clip(n=21)
    prompter = PointTracker()
    prompter.add_from_mask(1, clip.objects[0], clip.frames[0])
    disc_start = prompter.tracks[1].points.copy()
    patch = np.zeros((H, W), bool)
    patch[180:230, 250:310] = True  # a still piece of background the disc never reaches by frame 20
    for t in range(1, 21):
        tracks = prompter.update(clip.frames[t])
        if t == 5:
            prompter.add_from_mask(2, patch, clip.frames[t])
            patch_start = prompter.tracks[2].points.copy()
        if t == 10:
            disc = tracks[1]
            errors = np.linalg.norm(disc.points - clip.truth(disc_start, 0, t), axis=1)[disc.visible]
            assert np.median(errors) < 1.0  # joining object 2 did not disturb object 1
            prompter.remove(1)
    assert set(tracks) == {2}
    assert tracks[2].visible.all() and np.abs(tracks[2].points - patch_start).max() < 0.5


def test_reseed_keeps_visible_points_inside_the_mask_and_tops_up():
    clip = render_clip(n=2)
    prompter = PointTracker(num_points=16)
    prompter.add_from_mask(1, clip.objects[0], clip.frames[0])
    before = prompter.tracks[1]
    half = clip.objects[0].copy()
    half[:, : int(before.points[:, 0].mean())] = False  # keep the right half of the object only
    survivors = before.points[lookup(half, before.points)]
    prompter.reseed(1, half, clip.frames[0])
    after = prompter.tracks[1]
    assert len(after.points) == 16 and after.visible.all()
    assert np.all(lookup(half, after.points))
    for point in survivors:  # surviving points are kept as they are
        assert np.min(np.linalg.norm(after.points - point, axis=1)) < 1e-6


DAVIS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "davis2016"


def test_lk_points_stay_on_real_objects_with_reseeding_from_their_masks():
    """DAVIS-2016 (real video, ground-truth masks): points seeded and re-seeded from the true masks, 30 frames each."""
    if not DAVIS.is_dir():
        pytest.skip(f"real test data not found at {DAVIS}")
    off_object = on_object = 0
    for sequence in sorted(p.name for p in (DAVIS / "JPEGImages" / "480p").iterdir()):
        images = sorted((DAVIS / "JPEGImages" / "480p" / sequence).glob("*.jpg"))[:30]
        truths = sorted((DAVIS / "Annotations" / "480p" / sequence).glob("*.png"))[:30]
        frames = [cv2.imread(str(path)) for path in images]
        masks = [cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) > 127 for path in truths]
        prompter = PointTracker()
        prompter.add_from_mask(1, masks[0], frames[0])
        fewest = prompter.num_points
        for frame, mask in zip(frames[1:], masks[1:]):
            track = prompter.update(frame)[1]
            near = cv2.dilate(mask.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0  # 3 px slack for the outline
            on = lookup(near, track.points[track.visible & (track.labels == 1)])
            on_object += on.sum()
            off_object += (~on).sum()
            fewest = min(fewest, track.num_visible_positives)
            prompter.reseed_from_masks({1: mask}, frame)
        if sequence in ("car-roundabout", "car-shadow", "dog", "drift-chicane", "paragliding-launch"):
            assert fewest >= 4, f"{sequence}: only {fewest} visible points on some frame"  # (breakdance: 1)
    assert off_object <= 0.01 * on_object  # measured: 2 of 1775


# ---------------------------------------------------------------- query sampling


def two_objects() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    frame = texture(rng, H, W)
    a = np.zeros((H, W), bool)
    b = np.zeros((H, W), bool)
    cv2.circle(a.view(np.uint8), (120, 120), 40, 1, -1)
    cv2.rectangle(b.view(np.uint8), (165, 60), (230, 200), 1, -1)
    return frame, a, b


def test_mask_queries_put_positives_inside_and_negatives_on_the_other_object_only():
    frame, a, b = two_objects()
    far = np.zeros((H, W), bool)
    far[200:235, 5:40] = True  # another object, but not near object a
    prompter = PointTracker(num_points=12, num_negatives=6)
    prompter.add_from_mask(1, a, frame, negatives_from=[b, far])
    track = prompter.tracks[1]
    positives, negatives = track.points[track.labels == 1], track.points[track.labels == 0]
    assert len(positives) == 12 and len(negatives) == 6
    assert lookup(a, positives).all()
    assert lookup(b, negatives).all() and not lookup(a, negatives).any() and not lookup(far, negatives).any()


def test_box_queries_stay_in_the_box_centre_and_off_other_objects():
    frame, a, b = two_objects()
    box = np.array([70, 70, 200, 170])  # overlaps object b on its right side
    prompter = PointTracker(num_points=10, num_negatives=4)
    prompter.add_from_box(1, box, frame, negatives_from=[b])
    track = prompter.tracks[1]
    positives, negatives = track.points[track.labels == 1], track.points[track.labels == 0]
    assert len(positives) == 10 and len(negatives) == 4
    assert np.all((positives >= [102, 95]) & (positives <= [168, 145]))  # central half of the box
    assert not lookup(b, positives).any()
    assert lookup(b, negatives).all()


def test_sampling_without_texture_still_spreads_points_over_the_mask():
    mask = np.zeros((H, W), bool)
    mask[50:150, 60:260] = True
    flat = np.full((H, W, 3), 90, np.uint8)  # no corners at all
    points = sample_points_in_mask(mask, 20, flat)
    assert len(points) == 20 and lookup(mask, points).all()
    gaps = np.linalg.norm(points[:, None] - points[None], axis=2) + np.eye(20) * 1e9
    assert gaps.min() > 15  # spread out, not clumped


def test_prompt_has_only_visible_points_and_caps_positives():
    track = PointTrack(
        points=np.arange(24, dtype=np.float32).reshape(12, 2),
        labels=np.array([1] * 10 + [0] * 2),
        visible=np.array([True, False] * 6),
    )
    prompt = track.to_prompt(max_positives=3)
    assert isinstance(prompt, Prompt)
    assert prompt.labels.tolist() == [1, 1, 1, 0]
    assert all(any(np.array_equal(p, q) for q in track.points[track.visible]) for p in prompt.points)
    everything = track.to_prompt(max_positives=None)
    assert len(everything.points) == 6
    hidden = PointTrack(track.points, track.labels, track.labels == 0)
    assert hidden.to_prompt() is None  # negatives alone are no prompt


def test_bad_input_gives_clear_errors():
    frame, a, _ = two_objects()
    prompter = PointTracker()
    with pytest.raises(ValueError, match="positive"):
        prompter.add(1, [[10, 10]], [0], frame)
    with pytest.raises(ValueError, match="empty"):
        prompter.add_from_mask(1, np.zeros((H, W), bool), frame)
    with pytest.raises(ValueError, match="uint8 frame"):
        prompter.add_from_mask(1, a, frame.astype(np.float32))
    with pytest.raises(ValueError, match="unknown point tracker"):
        PointTracker(backend="sift")


# ---------------------------------------------------------------- CoTracker3


class StandInCoTracker(torch.nn.Module):
    """CoTracker3 online's predictor interface with a tiny tracker inside.

    Same call and shapes: `step`; first call `(video (1, 2*step, 3, H, W), is_first_step=True, queries (1, N, 3))`
    returns (None, None); each later call gets the next window of up to 2*step frames (RGB, 0-255 floats; shorter
    only for a run's last call) and returns tracks (1, T, N, 2) and bool visibility (1, T, N) for every frame of the
    run so far. Inside, points are followed frame to frame with OpenCV LK from their query frame on (all queries of
    a run share one frame here); visible = inside the frame.
    """

    step = 8

    def __init__(self):
        super().__init__()
        self.chunks = []  # every window it was given

    def forward(self, video_chunk, is_first_step=False, queries=None, add_support_grid=False, **unused):
        batch, length, channels, height, width = video_chunk.shape
        assert batch == 1 and channels == 3 and length <= 2 * self.step and video_chunk.dtype == torch.float32
        if is_first_step:
            assert queries.ndim == 3 and queries.shape[0] == 1 and queries.shape[2] == 3
            self.queries = queries[0].cpu().numpy()
            self.run_index, self.tracks = 0, []
            return None, None
        self.chunks.append(video_chunk)
        gray = [cv2.cvtColor(f.permute(1, 2, 0).numpy().astype(np.uint8), cv2.COLOR_RGB2GRAY) for f in video_chunk[0]]
        query_time, query_xy = self.queries[:, 0], self.queries[:, 1:].astype(np.float32)
        for i in range(0 if self.run_index == 0 else self.step, length):  # frames this run has not seen yet
            t = self.run_index + i
            if t <= query_time[0]:
                self.tracks.append(query_xy.copy())
            else:
                moved, _, _ = cv2.calcOpticalFlowPyrLK(gray[i - 1], gray[i], self.tracks[-1], None)
                self.tracks.append(moved.reshape(-1, 2))
        self.run_index += self.step
        tracks = torch.from_numpy(np.stack(self.tracks))[None]
        x, y = tracks[..., 0], tracks[..., 1]
        return tracks, (x >= 0) & (y >= 0) & (x <= width - 1) & (y <= height - 1)


def panning_clip(n: int, velocity=(-3.3, 1.7), seed: int = 1) -> tuple[list[np.ndarray], np.ndarray]:
    """160x120 views of a big texture, the camera panning by `velocity` px/frame; returns frames, shifts (n, 2)."""
    scene = texture(np.random.default_rng(seed), 400, 500)
    shifts = np.array([[velocity[0] * t, velocity[1] * t] for t in range(n)])
    view = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP  # frame pixel (x, y) shows scene pixel (x + 150 - dx, y + 120 - dy)
    frames = [cv2.warpAffine(scene, np.float32([[1, 0, 150 - dx], [0, 1, 120 - dy]]), (160, 120), flags=view)
              for dx, dy in shifts]
    return frames, shifts


def test_cotracker_backend_windows_queries_and_visibility_with_a_stand_in_model():
    frames, shifts = panning_clip(40)
    model = StandInCoTracker()
    prompter = PointTracker(backend="cotracker", model=model, device="cpu")
    start = np.array([[12.0, 30.0], [80.0, 60.0], [140.0, 20.0], [100.0, 100.0]], np.float32)
    prompter.add(1, start, None, frames[0])
    assert model.queries[:, 0].tolist() == [15.0] * 4  # queries [t, x, y] on the last frame of the first window
    assert np.allclose(model.queries[:, 1:], start)
    fresh_frames = []
    for t in range(1, len(frames)):
        tracks = prompter.update(frames[t])
        if not tracks:
            continue
        fresh_frames.append(t)
        track = tracks[1]
        truth = start + (shifts[t] - shifts[0])
        errors = np.linalg.norm(track.points - truth, axis=1)[track.visible]
        # on this very frame: one frame late would be 3.7 px off (the stand-in's LK is less exact at the border)
        assert np.all(errors < 1.0), f"frame {t}: errors {errors}"
        assert np.array_equal(track.visible, lookup(np.ones((120, 160), bool), truth))
        chunk = model.chunks[-1][0].permute(0, 2, 3, 1).numpy()
        assert np.array_equal(chunk[-1], frames[t][:, :, ::-1])  # newest frame last, as RGB
        assert np.array_equal(chunk[-9], frames[t - 8][:, :, ::-1])  # windows of 16 frames, moving by 8
    assert fresh_frames == [8, 16, 24, 32]
    assert 0 < track.visible.sum() < len(start)  # some points have left the frame by now ...
    assert len(track.to_prompt().points) == track.visible.sum()  # ... and are left out of the prompt


def test_cotracker_restarts_when_an_object_joins():
    frames, shifts = panning_clip(30)
    model = StandInCoTracker()
    prompter = PointTracker(backend="cotracker", model=model, device="cpu")
    prompter.add(1, [[80.0, 60.0]], None, frames[0])
    for t in range(1, 12):
        prompter.update(frames[t])
    prompter.add(2, [[40.0, 40.0]], None, frames[11])  # joins between windows: a new run starts on frame 11
    assert len(model.queries) == 2 and model.queries[0, 0] == 15
    # object 1 was first brought onto frame 11 by a short last window (frames 4-11), then the new run's first window
    assert [len(chunk[0]) for chunk in model.chunks] == [16, 16, 11, 16]
    assert np.array_equal(model.chunks[2][0, -1].permute(1, 2, 0).numpy(), frames[11][:, :, ::-1])
    assert np.allclose(model.queries[0, 1:], [80, 60] + shifts[11], atol=0.5)
    for t in range(12, 20):
        tracks = prompter.update(frames[t])
    assert set(tracks) == {1, 2}  # fresh again 8 frames after the restart, on frame 19
    assert np.allclose(tracks[1].points[0], [80, 60] + shifts[19], atol=0.5)
    assert np.allclose(tracks[2].points[0], [40, 40] + shifts[19] - shifts[11], atol=0.5)


def test_cotracker_fails_fast_with_a_clear_message_when_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty torch hub cache
    with pytest.raises(CoTrackerUnavailable) as error:
        load_cotracker(download=False)
    message = str(error.value)
    assert "\n" not in message
    assert str(tmp_path / "hub" / "checkpoints" / "scaled_online.pth") in message
    assert "https://huggingface.co/facebook/cotracker3/resolve/main/scaled_online.pth" in message
    assert str(tmp_path / "hub" / "facebookresearch_co-tracker_main") in message


def test_cotracker_download_gives_up_on_a_silent_network(monkeypatch, tmp_path):
    """A network that swallows packets must not hang the program: the download times out with the same message."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    silent = socket.create_server(("127.0.0.1", 0))  # accepts connections, never answers
    connect = socket.create_connection
    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: connect(silent.getsockname(), *a, **k))
    try:
        with pytest.raises(CoTrackerUnavailable, match="download failed.*scaled_online.pth"):
            PointTracker(backend="cotracker", timeout=0.5)
    finally:
        silent.close()
