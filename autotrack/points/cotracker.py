"""Point tracking with CoTracker3 online (Meta), the optional `cotracker` backend of `PointTracker`.

The model comes from torch.hub (`facebookresearch/co-tracker`, entry `cotracker3_online`): its code goes to
`<hub dir>/facebookresearch_co-tracker_main` and its weights to `<hub dir>/checkpoints/scaled_online.pth`, both
downloaded on first use. Nothing else beyond torch is needed.

How the online model is driven (as in the co-tracker repository's `online_demo.py`): it sees a window of
`2 * model.step` frames (16) every `model.step` frames (8), windows overlapping by half. Queries are `[t, x, y]`
rows (t = frame index within the current run, x and y in frame pixels), fixed when a run starts
(`is_first_step=True`). Each window call returns tracks `(1, T, N, 2)` and visibility `(1, T, N)` (bool) for every
frame seen so far in the run; the last row is the newest frame. So fresh positions arrive every `model.step`
frames, and adding or removing points starts a new run.

A new run starts from the buffered last 16 frames (padded with copies of the oldest at the start of a video) with
queries on its last frame, so results never wait for 16 new frames. Before points change between windows,
`catch_up` ends the run with a shorter last window (as the official demo does at the end of a video) to get every
point onto the current frame. Runs are also restarted every `restart_every` frames, since the model keeps every past
frame's predictions and would otherwise grow with the video.
"""

from __future__ import annotations

import contextlib
import socket
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from autotrack.device import resolve_device
from autotrack.errors import AutotrackError

HUB_REPO = "facebookresearch/co-tracker"
HUB_REF = "main"
HUB_ENTRY = "cotracker3_online"
WEIGHTS_NAME = "scaled_online.pth"
WEIGHTS_URL = f"https://huggingface.co/facebook/cotracker3/resolve/main/{WEIGHTS_NAME}"
CODE_URL = f"https://github.com/{HUB_REPO}/archive/refs/heads/{HUB_REF}.zip"


class CoTrackerUnavailable(AutotrackError, RuntimeError):
    """CoTracker3 cannot be loaded: its code or weights are missing and cannot be downloaded."""


def cotracker_files(hub_dir: str | Path | None = None) -> tuple[Path, Path]:
    """Where torch.hub keeps CoTracker3's code folder and online weights file."""
    hub = Path(hub_dir if hub_dir is not None else torch.hub.get_dir())
    owner, name = HUB_REPO.split("/")
    return hub / f"{owner}_{name}_{HUB_REF}", hub / "checkpoints" / WEIGHTS_NAME


def _missing_message(code_dir: Path, weights: Path, reason: str) -> str:
    missing = []
    if not (code_dir / "hubconf.py").exists():
        missing.append(f"code folder {code_dir} (the contents of {CODE_URL}, hubconf.py at its top)")
    if not weights.exists():
        missing.append(f"weights file {weights} (download {WEIGHTS_URL})")
    return f"CoTracker3 online is not available ({reason}): missing " + " and ".join(missing)


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """Make every blocking network call in the block give up after `seconds` of silence instead of hanging."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def load_cotracker(download: bool = True, timeout: float = 10.0) -> torch.nn.Module:
    """The CoTracker3 online predictor from torch.hub, downloading its code and weights on first use.

    Fails fast with `CoTrackerUnavailable` (one line: what is missing, where it goes, where to get it) when the
    files are not cached and `download` is False, or when the network is silent for `timeout` seconds.
    """
    code_dir, weights = cotracker_files()
    cached = (code_dir / "hubconf.py").exists() and weights.exists()
    if not cached and not download:
        raise CoTrackerUnavailable(_missing_message(code_dir, weights, "downloads are off"))
    try:
        with _socket_timeout(timeout):
            return torch.hub.load(
                f"{HUB_REPO}:{HUB_REF}", HUB_ENTRY, trust_repo=True, skip_validation=True, verbose=False
            )
    except OSError as error:  # URLError, HTTPError, timeouts and SSL errors are all OSErrors
        raise CoTrackerUnavailable(_missing_message(code_dir, weights, f"download failed: {error}")) from error


class CoTrackerOnline:
    """Joint tracking of every point with CoTracker3 online; the `cotracker` backend of `PointTracker`.

    Args:
        model: a CoTracker online predictor (default: `load_cotracker()`); anything with the same call signature,
            outputs and `step` attribute works.
        device: where the model runs (default: CUDA when available).
        restart_every: frames per run before restarting from the current positions, to bound memory.
        download, timeout: passed to `load_cotracker` when no model is given.
    """

    def __init__(
        self,
        model: torch.nn.Module | None = None,
        device: str | None = None,
        restart_every: int = 512,
        download: bool = True,
        timeout: float = 10.0,
    ) -> None:
        self.device = resolve_device(device)
        if model is None:
            model = load_cotracker(download=download, timeout=timeout)
        self.model = model.to(self.device)
        self.window_step = int(self.model.step)
        self.restart_every = restart_every
        self._frames: deque[np.ndarray] = deque(maxlen=2 * self.window_step)  # RGB, the run's latest window
        self._last_input: np.ndarray | None = None
        self._points = np.zeros((0, 2), dtype=np.float32)
        self._visible = np.zeros(0, dtype=bool)
        self._queried = np.zeros(0, dtype=np.int64)  # indices of the points the current run tracks
        self._since_window = 0
        self._run_frames = 0
        self._ended = False  # a catch-up ended the run; the next step or reset starts a new one

    def reset(self, frame: np.ndarray | None, points: np.ndarray, visible: np.ndarray, groups: np.ndarray) -> None:
        """Start a new run tracking the `visible` points (Kx2, on `frame`, or on the last frame when None).

        `groups` is not needed: CoTracker tracks all points jointly.
        """
        if frame is not None and frame is not self._last_input:
            self._push(frame)
        self._points = np.asarray(points, dtype=np.float32).reshape(-1, 2).copy()
        self._visible = np.asarray(visible, dtype=bool).copy()
        self._start_run()

    def step(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Add a frame; return all points (Kx2) and visibility (K,) when a window completes on it, else None."""
        if self._ended:
            self._start_run()
        self._push(frame)
        if not len(self._queried):
            return self._points.copy(), self._visible.copy()
        self._since_window += 1
        self._run_frames += 1
        if self._since_window < self.window_step:
            return None
        self._run_window()
        if self._run_frames >= self.restart_every:
            self._start_run()
        return self._points.copy(), self._visible.copy()

    def catch_up(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Points and visibility on the latest frame, ending the run early if frames came in since its last window;
        None when the last answer is already on the latest frame."""
        if not len(self._queried) or self._since_window == 0:
            return None
        self._run_window(self.window_step + self._since_window)
        self._ended = True
        return self._points.copy(), self._visible.copy()

    def _push(self, frame: np.ndarray) -> None:
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"expected an HxWx3 uint8 BGR frame, got shape {frame.shape} and dtype {frame.dtype}")
        if self._frames and frame.shape != self._frames[-1].shape:
            raise ValueError(f"frame size changed from {self._frames[-1].shape[1::-1]} to {frame.shape[1::-1]} (w, h)")
        self._last_input = frame
        self._frames.append(np.ascontiguousarray(frame[:, :, ::-1]))  # the model expects RGB

    def _start_run(self) -> None:
        """Begin a run whose first window is the buffer, padded at the front, with queries on its last frame."""
        self._queried = np.flatnonzero(self._visible)
        self._since_window = self._run_frames = 0
        self._ended = False
        if not len(self._queried):
            return
        while len(self._frames) < self._frames.maxlen:
            self._frames.appendleft(self._frames[0])
        query_time = np.full((len(self._queried), 1), len(self._frames) - 1, dtype=np.float32)
        queries = np.concatenate([query_time, self._points[self._queried]], axis=1)
        queries = torch.from_numpy(queries)[None].to(self.device)
        self.model(self._window(), is_first_step=True, queries=queries, add_support_grid=True)
        self.model(self._window(), add_support_grid=True)  # on the query frame itself the queries are the answer

    def _window(self, length: int | None = None) -> torch.Tensor:
        """The last `length` (default all) buffered frames as the model's (1, T, 3, H, W) float 0-255 video chunk."""
        frames = list(self._frames)[-length:] if length else list(self._frames)
        video = torch.from_numpy(np.stack(frames)).to(self.device)
        return video.permute(0, 3, 1, 2)[None].float()

    def _run_window(self, length: int | None = None) -> None:
        """Run the model on the latest window and keep the positions and visibility on its last frame."""
        tracks, visible = self.model(self._window(length), add_support_grid=True)
        self._points[self._queried] = tracks[0, -1].float().cpu().numpy()
        self._visible[self._queried] = visible[0, -1].cpu().numpy().astype(bool)
        self._since_window = 0
