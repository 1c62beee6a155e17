"""Per-object SAM2 memory: conditioning entries, a bounded store of recent entries, and object pointers.

What the object attends to on the next frame is decided by a small policy object:
- `FifoPolicy`: plain SAM2, the last `num_maskmem - 1` (6) frames.
- `MotionAwarePolicy`: SAMURAI's rule, the 6 most recent *reliable* frames, the previous frame always included.
  SAMURAI scans the whole history for reliable frames, which needs unbounded memory; here the store keeps only the
  most recent reliable entries plus the latest one, so a long bad streak keeps its last good memories and memory
  stays O(num_maskmem) per object.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import torch

from autotrack.errors import InputError

NUM_MASKMEM = 7  # SAM2: memory slots = 1 conditioning + 6 recent frames
MAX_OBJ_PTRS = 16  # SAM2: object pointers attended (conditioning + 15 recent)
MAX_CONDITIONING = 4  # prompted frames kept per object (the most recent ones)


@dataclass
class MemoryEntry:
    """One frame's encoded memory of one object, with the scores that decide whether it is reliable."""

    frame_index: int
    features: torch.Tensor  # (1, T, mem_dim) memory tokens, float16 like SAM2's video predictors
    obj_ptr: torch.Tensor  # (1, hidden_dim)
    affinity: float
    object_score: float  # logit
    motion: float | None

    @property
    def reliable(self) -> bool:
        """SAMURAI's gates: good mask (affinity > 0.5), object present (logit > 0), agrees with motion (> 0)."""
        return self.affinity > 0.5 and self.object_score > 0 and (self.motion is None or self.motion > 0)


class FifoPolicy:
    """Plain SAM2: keep and attend to the last `num_maskmem - 1` frames."""

    name = "fifo"

    def __init__(self, num_maskmem: int = NUM_MASKMEM) -> None:
        self.num_recent = num_maskmem - 1

    def keep(self, entries: list[MemoryEntry]) -> list[MemoryEntry]:
        """Entries to keep after appending the newest one (oldest first)."""
        return entries[-self.num_recent :]

    def select(self, entries: list[MemoryEntry], frame_index: int) -> list[tuple[int, MemoryEntry]]:
        """(t_pos, entry) pairs to attend to; t_pos = num_maskmem - frames back, as SAM2 encodes time."""
        selected = []
        for entry in entries:
            back = frame_index - entry.frame_index
            if 1 <= back <= self.num_recent:
                selected.append((self.num_recent + 1 - back, entry))
        return selected


class MotionAwarePolicy:
    """SAMURAI: attend to the most recent reliable frames, always including the previous frame."""

    name = "motion-aware"

    def __init__(self, num_maskmem: int = NUM_MASKMEM) -> None:
        self.num_recent = num_maskmem - 1

    def keep(self, entries: list[MemoryEntry]) -> list[MemoryEntry]:
        """The latest entry plus the `num_recent - 1` most recent reliable ones: all that `select` can attend to on
        the next frame, and after it (an older reliable entry would never be selected again)."""
        latest = entries[-1]
        reliable = [e for e in entries[:-1] if e.reliable][-(self.num_recent - 1) :]
        return reliable + [latest]

    def select(self, entries: list[MemoryEntry], frame_index: int) -> list[tuple[int, MemoryEntry]]:
        """The previous frame's entry plus the most recent reliable ones, ordered in time; t_pos by that order."""
        if not entries:
            return []
        latest = entries[-1]
        chosen = [e for e in entries[:-1] if e.reliable][-(self.num_recent - 1) :] + [latest]
        first_pos = self.num_recent + 1 - len(chosen)
        return [(first_pos + i, entry) for i, entry in enumerate(chosen)]


POLICIES = {"fifo": FifoPolicy, "motion-aware": MotionAwarePolicy}  # by the names config.MEMORY_POLICIES lists


def memory_policy(name: str) -> type[FifoPolicy | MotionAwarePolicy]:
    """The memory policy called `name`; a one-line error for an unknown one."""
    if name not in POLICIES:
        raise InputError(f"unknown memory policy {name!r}; choose one of {', '.join(POLICIES)}")
    return POLICIES[name]


@dataclass
class ObjectMemory:
    """Everything one object remembers; every part is bounded."""

    policy: FifoPolicy | MotionAwarePolicy
    conditioning: deque[MemoryEntry] = field(default_factory=lambda: deque(maxlen=MAX_CONDITIONING))
    recent: list[MemoryEntry] = field(default_factory=list)
    pointers: deque[tuple[int, torch.Tensor]] = field(default_factory=lambda: deque(maxlen=MAX_OBJ_PTRS - 1))

    def add(self, entry: MemoryEntry, conditioning: bool) -> None:
        """Store a new frame's entry: prompted frames become conditioning entries, others go to the recent store."""
        if conditioning:
            self.conditioning.append(entry)
            return
        self.recent = self.policy.keep(self.recent + [entry])
        self.pointers.append((entry.frame_index, entry.obj_ptr))

    def select(self, frame_index: int) -> tuple[list[tuple[int, MemoryEntry]], list[tuple[int, torch.Tensor]]]:
        """Memory to attend to on `frame_index`: (t_pos, entry) pairs and (frames back, pointer) pairs.

        Conditioning entries come first with t_pos 0, as in SAM2; pointers come from the conditioning frames and
        the last 15 frames.
        """
        spatial = [(0, e) for e in self.conditioning] + self.policy.select(self.recent, frame_index)
        pointers = [(frame_index - e.frame_index, e.obj_ptr) for e in self.conditioning]
        pointers += [(frame_index - t, p) for t, p in reversed(self.pointers) if frame_index - t < MAX_OBJ_PTRS]
        return spatial, pointers

    def __len__(self) -> int:
        return len(self.conditioning) + len(self.recent)
