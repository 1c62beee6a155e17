"""Figures of bench runs: one run's per-frame record and its summary, contenders run over rotated rounds, the summary
over the rounds, and fps ratios between contenders round by round."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from autotrack.errors import InputError

MB = 1024 * 1024


@dataclass
class RunResult:
    """Per-frame measurements of one run (warm-up frames included); `summary()` turns them into figures."""

    name: str
    warmup: int
    seconds: list[float] = field(default_factory=list)
    stages: dict[str, list[float]] = field(default_factory=dict)
    rss: list[int] = field(default_factory=list)  # bytes, after each frame
    memory_entries: dict[int, int] = field(default_factory=dict)  # per object at the end (autotrack runs)

    def add(self, seconds: float, stages: dict[str, float], rss: int) -> None:
        """Record one frame; a stage missing on a frame counts 0 there, so every series has one value per frame."""
        self.seconds.append(seconds)
        for name in dict.fromkeys([*self.stages, *stages]):
            self.stages.setdefault(name, [0.0] * (len(self.seconds) - 1)).append(stages.get(name, 0.0))
        self.rss.append(rss)

    def summary(self) -> dict:
        """fps (whole frame and without decode), mean ms per stage, peak RSS and its growth after the warm-up."""
        timed = np.array(self.seconds[self.warmup :])
        stages_ms = {name: 1000 * float(np.mean(values[self.warmup :])) for name, values in self.stages.items()}
        decode = np.array(self.stages.get("decode", [0.0] * len(self.seconds))[self.warmup :])
        return {
            "frames": len(timed),
            "fps": float(1 / timed.mean()) if len(timed) else 0.0,
            "fps_without_decode": float(1 / (timed - decode).mean()) if len(timed) else 0.0,
            "ms_per_frame": 1000 * float(timed.mean()) if len(timed) else 0.0,
            "stages_ms": stages_ms,
            "peak_rss_mb": max(self.rss, default=0) / MB,
            "rss_growth_mb": (self.rss[-1] - self.rss[max(self.warmup - 1, 0)]) / MB if self.rss else 0.0,
            "memory_entries": dict(self.memory_entries),
        }


def run_rounds(contenders: dict[str, Callable[[], RunResult]], rounds: int) -> dict[str, list[RunResult]]:
    """Run each contender (a function that runs it once over the clip) `rounds` times, the order rotated every round
    (A B C, B C A, C A B, ...), so that no contender always runs first, after the same one, or in the same phase of
    the machine's background load. Returns each contender's runs, in round order."""
    if rounds < 1:
        raise InputError(f"a benchmark needs at least 1 round, got {rounds}")
    names = list(contenders)
    results: dict[str, list[RunResult]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            results[name].append(contenders[name]())
    return results


def summarize_rounds(runs: list[RunResult]) -> dict:
    """One contender over its rounds: mean ms per frame and per stage over the rounds (fps from that), each round's
    fps and their spread ((max - min) / median), the highest peak and growth of resident memory."""
    rounds = [r.summary() for r in runs]
    fps = [s["fps"] for s in rounds]
    ms = float(np.mean([s["ms_per_frame"] for s in rounds]))
    decode = float(np.mean([s["stages_ms"].get("decode", 0.0) for s in rounds]))
    stages = list(dict.fromkeys(name for s in rounds for name in s["stages_ms"]))
    return {
        "frames": sum(s["frames"] for s in rounds),
        "fps": 1000 / ms if ms else 0.0,
        "fps_without_decode": 1000 / (ms - decode) if ms > decode else 0.0,
        "ms_per_frame": ms,
        "stages_ms": {name: float(np.mean([s["stages_ms"].get(name, 0.0) for s in rounds])) for name in stages},
        "fps_rounds": fps,
        "spread": (max(fps) - min(fps)) / float(np.median(fps)) if np.median(fps) else 0.0,
        "peak_rss_mb": max(s["peak_rss_mb"] for s in rounds),
        "rss_growth_mb": max(s["rss_growth_mb"] for s in rounds),
        "memory_entries": rounds[-1]["memory_entries"],
    }


def ratios(results: dict[str, list[RunResult]], reference: str) -> dict[str, list[float]]:
    """fps of each other contender over the reference's, round by round (runs of one round are neighbours)."""
    return pair_ratios(results, {name: reference for name in results if name != reference})


def pair_ratios(results: dict[str, list[RunResult]], pairs: dict[str, str]) -> dict[str, list[float]]:
    """fps of each contender in `pairs` over its partner's, round by round."""
    fps = {name: [r.summary()["fps"] for r in runs] for name, runs in results.items()}
    return {name: [a / b for a, b in zip(fps[name], fps[partner])] for name, partner in pairs.items()}


def named_ratios(results: dict[str, list[RunResult]], reference: str | None = None,
                 pairs: dict[str, str] | None = None) -> dict[str, list[float]]:
    """{"a / b": per-round fps ratios}: every contender to the reference contender, then each of `pairs`."""
    named = {}
    if reference is not None and reference in results:
        named.update({f"{name} / {reference}": values for name, values in ratios(results, reference).items()})
    for name, values in pair_ratios(results, pairs or {}).items():
        named[f"{name} / {pairs[name]}"] = values
    return named
