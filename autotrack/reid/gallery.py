"""One object's appearance gallery: a few unit-length embeddings chosen to differ (poses, scales, lighting)."""

from __future__ import annotations

import numpy as np


class Gallery:
    """At most `size` embeddings of one object, kept diverse.

    A new embedding within cosine distance `diversity` of a kept one adds nothing and is dropped. While there is
    room, any other joins; when full, it replaces the most redundant kept embedding (the one most similar to another
    kept one), if that one is more redundant than the newcomer would be.
    """

    def __init__(self, size: int, diversity: float) -> None:
        self.size = size
        self.diversity = diversity
        self.vectors: np.ndarray | None = None  # (n, C) unit rows, n <= size

    def __len__(self) -> int:
        return 0 if self.vectors is None else len(self.vectors)

    def add(self, vector: np.ndarray) -> bool:
        """Offer a unit-length embedding; True when the gallery kept it."""
        vector = np.asarray(vector, dtype=np.float32)[None]
        if self.vectors is None:
            self.vectors = vector
            return True
        closest = float(np.max(self.vectors @ vector[0]))
        if closest > 1.0 - self.diversity:
            return False
        if len(self.vectors) < self.size:
            self.vectors = np.concatenate([self.vectors, vector])
            return True
        similar = self.vectors @ self.vectors.T
        np.fill_diagonal(similar, -np.inf)
        redundancy = similar.max(axis=1)
        worst = int(np.argmax(redundancy))
        if redundancy[worst] <= closest:
            return False
        self.vectors[worst] = vector[0]
        return True

    def similarity(self, vector: np.ndarray) -> float:
        """Cosine similarity of an embedding with the closest kept one (-1 for an empty gallery)."""
        return -1.0 if self.vectors is None else float(np.max(self.vectors @ np.asarray(vector, np.float32)))
