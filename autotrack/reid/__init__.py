"""Long-term re-identification: objects that leave for longer than the identity manager waits come back under their
own ID, recognised by how they look.

Every visible object with good scores adds its embedding (`ObjectState.embedding`, from the engine) to a small,
diverse gallery (`gallery.Gallery`). Galleries outlive their objects for a bounded time and count
(`memory.Reidentifier`), so memory stays flat on an endless stream. Before a new ID is born, the identity manager
asks whether the new object looks like a lost or retired one of a compatible class; if it does, clearly, the new
object takes the old ID back.
"""

from autotrack.reid.gallery import Gallery
from autotrack.reid.memory import Candidate, GalleryEntry, Reidentifier, Revival

__all__ = ["Candidate", "Gallery", "GalleryEntry", "Reidentifier", "Revival"]
