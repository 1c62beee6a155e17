"""Points that follow each object (SAM-PT): seeded from clicks, a box or a mask, moved by a point tracker backend
(OpenCV Lucas-Kanade, or CoTracker3), and handed to SAM2 as a fresh prompt when its scores stay low."""

from autotrack.points.tracker import PointTrack, PointTracker

__all__ = ["PointTrack", "PointTracker"]
