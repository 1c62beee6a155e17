"""The family registry: model family name -> `Family` (input-size rule, pixel statistics, prompt encoding, build).

A new model family is a folder under `autotrack/models/` whose `__init__` defines a `FAMILY`, plus one entry here.
Which family a model name belongs to is the weights registry's fact (`autotrack.weights.ModelSpec.family`).
"""

from __future__ import annotations

from autotrack.engine.family import Family
from autotrack.models.edgetam import FAMILY as EDGETAM
from autotrack.models.sam2 import FAMILY as SAM2
from autotrack.models.sam3 import FAMILY as SAM3
from autotrack.weights import get_spec

FAMILIES: dict[str, Family] = {family.name: family for family in (SAM2, EDGETAM, SAM3)}


def family_of(model: str) -> Family:
    """The family of model `model` (`sam2.1_t`, `edgetam`, ...); a one-line error for an unknown name."""
    return FAMILIES[get_spec(model).family]


def motion_weight(model: str) -> float:
    """SAMURAI's weight of the motion score: 0.15 for large models, 0.25 for the others."""
    return 0.15 if get_spec(model).size == "l" else 0.25
