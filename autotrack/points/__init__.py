"""Points that follow each object (SAM-PT): seeded from clicks, a box or a mask, moved by a point tracker backend
(OpenCV Lucas-Kanade, or CoTracker3), and handed to SAM2 as a fresh prompt when its scores stay low.
`PointFollower` drives a `PointTracker` from a pipeline's frames, objects and events."""

from autotrack.points.follow import PointFollower
from autotrack.points.tracker import PointTrack, PointTracker

__all__ = ["PointFollower", "PointTrack", "PointTracker"]
