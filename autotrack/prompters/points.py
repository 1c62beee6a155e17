"""Former home of the point tracker, kept so that existing imports work; use `autotrack.points.PointTracker`."""

from autotrack.points.tracker import PointTrack, PointTracker

PointPrompter = PointTracker  # the name before version 0.2

__all__ = ["PointPrompter", "PointTrack", "PointTracker"]
