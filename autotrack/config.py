"""One typed configuration tree for a pipeline: YAML in, typed overrides on top, clear errors for bad values.

A pipeline file has up to six sections, each optional (defaults below):
    detector: {weights: yolo11n.pt, classes: [person], conf: 0.25, imgsz: 640, every: 1}   # or `detector: null`
    detector: {weights: yoloe-11s-seg.pt, text: [forklift, person in a hard hat]}          # open vocabulary
    sam: {model: sam2.1_t, weights: null, imgsz: 1024, memory: motion-aware, kalman: true, precision: auto,
          compile: false, runtime: torch}      # model: sam2_t/s/b/l, sam2.1_t/s/b/l, edgetam or sam3
    points: {backend: lk, num_points: 16, num_negatives: 4, min_visible: null}   # default `points: null`: none
    identity: {max_lost: 30, ...}      # IdentityConfig
    reid: {enabled: false, threshold: 0.8, ...}   # ReidConfig: long-term re-identification
    device: auto

Overrides are typed values by dotted key, `load_config("yolo-sam2", {"sam.imgsz": 512, "device": "cpu"})`; the one
place a string becomes a value is `parse_set`, for `--set a.b=c`. Every value is checked once, by the dataclass that
holds it (`__post_init__`), so a file, an override and a dataclass built in Python get the same errors. This module
names the choices of the parts it configures (precisions, memory policies, point backends) and imports none of them.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import yaml

from autotrack.errors import AutotrackError

BUILTIN_DIR = files("autotrack") / "pipelines"  # package data: present in a wheel install as in a checkout
DEFAULT_PIPELINE = "yolo-sam2"
PRECISIONS = ("auto", "fp32", "bf16", "fp16")  # the engine's compute precision (autotrack.engine.precision)
MEMORY_POLICIES = ("motion-aware", "fifo")  # which past frames the engine attends to (autotrack.engine.memory)
POINT_BACKENDS = ("lk", "cotracker")
EMBEDDINGS = ("features", "pointer")  # the engine's appearance vector for re-identification (autotrack.engine)
RUNTIMES = ("torch", "openvino", "onnxruntime")  # where the model's heavy stages run (autotrack.runtimes)
DEFAULT_TIMM_EMBEDDER = "resnet18"  # `reid.embedder: timm`: small, fast on box crops, ImageNet weights on the hub


class ConfigError(AutotrackError, ValueError):
    """A pipeline file or override is malformed; the message says where."""


def _check_types(config) -> None:
    """Refuse a value whose type is not its field's default's (an int where a float is expected is fine)."""
    for item in dataclasses.fields(config):
        if not isinstance(item.default, (bool, int, float, str)):
            continue
        value = getattr(config, item.name)
        expected = float if isinstance(item.default, float) else type(item.default)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            continue
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ValueError(f"{item.name} must be {expected.__name__}, got {value!r}")


def _check_fractions(config, section: str, names: tuple[str, ...]) -> None:
    """Refuse a field of `names` outside 0..1."""
    for name in names:
        value = getattr(config, name)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{section}.{name} must be between 0 and 1, got {value}")


def _check_at_least(config, section: str, names: tuple[str, ...], minimum: int) -> None:
    """Refuse a field of `names` below `minimum`."""
    for name in names:
        value = getattr(config, name)
        if value < minimum:
            raise ValueError(f"{section}.{name} must be at least {minimum}, got {value}")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


@dataclass
class DetectorConfig:
    """The detector: YOLO, or YOLOE / YOLO-World when `text` is set or the weights name one."""

    weights: str = "yolo11n.pt"
    classes: list | None = None  # a closed-set model's classes to keep
    conf: float = 0.25
    imgsz: int = 640
    every: int = 1
    text: list | str | None = None  # an open-vocabulary model's class names (a list, or one string "a, b")

    def __post_init__(self) -> None:
        _check_types(self)
        if not 0.0 <= self.conf <= 1.0:
            raise ValueError(f"conf must be between 0 and 1, got {self.conf}")
        if self.imgsz < 32 or self.every < 1:
            raise ValueError(f"imgsz must be at least 32 and every at least 1, got {self.imgsz} and {self.every}")


@dataclass
class SamConfig:
    """The segmentation engine (`SAM2Tracker`'s parameters). The model family's own rule for `imgsz` (a multiple of
    32, of 256 for EdgeTAM) is the models' to check."""

    model: str = "sam2.1_t"
    weights: str | None = None
    imgsz: int = 1024
    memory: str = "motion-aware"  # one of MEMORY_POLICIES
    kalman: bool = True
    precision: str = "auto"  # one of PRECISIONS
    compile: bool = False  # torch.compile the image encoder and memory attention
    runtime: str = "torch"  # one of RUNTIMES: openvino / onnxruntime run exported graphs (`weights`: their folder)

    def __post_init__(self) -> None:
        _check_types(self)
        if self.imgsz < 1:
            raise ValueError(f"imgsz must be a positive integer, got {self.imgsz}")
        _check_choice("memory", self.memory, MEMORY_POLICIES)
        _check_choice("precision", self.precision, PRECISIONS)
        _check_choice("runtime", self.runtime, RUNTIMES)


@dataclass
class PointsConfig:
    """The point tracker (`autotrack.points.tracker.PointTracker`): points follow each object so SAM2 can be
    re-prompted from them when its scores stay low and no detection helps."""

    backend: str = "lk"  # lk (OpenCV Lucas-Kanade) or cotracker (CoTracker3 online, torch.hub)
    num_points: int = 16  # positive points per object
    num_negatives: int = 4  # negative points per object, on nearby other objects
    min_visible: int | None = None  # re-seed from the mask below this many visible positives (num_points // 2)

    def __post_init__(self) -> None:
        _check_types(self)
        _check_choice("backend", self.backend, POINT_BACKENDS)
        if self.num_points < 1 or self.num_negatives < 0:
            raise ValueError(f"num_points must be >= 1 and num_negatives >= 0, got {self.num_points}, "
                             f"{self.num_negatives}")
        if self.min_visible is not None and type(self.min_visible) is not int:
            raise ValueError(f"min_visible must be an integer or null, got {self.min_visible!r}")


@dataclass
class IdentityConfig:
    """Thresholds of the identity manager (`autotrack.identity`); the defaults are the architecture guide's.

    Attributes:
        match_iou: a detection and a track match only at box IoU >= this.
        birth_confidence: an unmatched detection needs confidence >= this to start a new object.
        birth_untracked: ... and at least this fraction of its box not covered by existing masks.
        drift_iou: a matched visible track whose box has IoU < this with its detection is re-prompted.
        low_affinity: affinity below this makes a low-score frame.
        low_occurrence: occurrence below this makes a low-score frame.
        low_score_frames: this many low-score frames in a row trigger a re-prompt (from a detection or points).
        occluded_occurrence: occurrence below this means the object is not visible (sigmoid of SAM2's logit 0).
        max_lost: frames in a row an object may stay occluded before it is lost and its ID retired.
        overlap_iou: two masks with IoU above this claim the same region; the weaker object yields.
    """

    match_iou: float = 0.3
    birth_confidence: float = 0.5
    birth_untracked: float = 0.5
    drift_iou: float = 0.5
    low_affinity: float = 0.5
    low_occurrence: float = 0.7
    low_score_frames: int = 3
    occluded_occurrence: float = 0.5
    max_lost: int = 30
    overlap_iou: float = 0.8

    def __post_init__(self) -> None:
        _check_types(self)
        _check_fractions(self, "identity", ("match_iou", "birth_confidence", "birth_untracked", "drift_iou",
                                            "low_affinity", "low_occurrence", "occluded_occurrence", "overlap_iou"))
        _check_at_least(self, "identity", ("low_score_frames",), 1)
        _check_at_least(self, "identity", ("max_lost",), 0)


@dataclass
class ReidConfig:
    """Long-term re-identification (`autotrack.reid`): a new detection that looks like an object lost or retired
    earlier takes that object's ID back.

    Attributes:
        enabled: off by default; on, the engine computes an appearance vector per object and frame.
        embedding: "features" (the image encoder's features under the mask) or "pointer" (SAM's object pointer).
        embedder: "free" (the engine's `embedding`, from features it computes anyway) or "timm:<model name>" (a learned
            embedder, `autotrack.reid.embedder`, on each object's box crop; "timm" alone: DEFAULT_TIMM_EMBEDDER).
        embedder_weights: the learned embedder's weights: a checkpoint file, "random" (a smoke run), or None for
            timm's pretrained ones (the Hugging Face cache, else a download).
        threshold: a candidate revives an old ID only at cosine similarity >= this with its gallery ...
        margin: ... and at least this much above the second most similar object.
        gallery_size: embeddings kept per object.
        diversity: a new embedding joins a gallery only at cosine distance > this from every kept one.
        keep_seconds: seconds a lost or retired object stays revivable after it was last seen, on the frames'
            timestamps (a file's presentation times, a live stream's arrival times).
        max_objects: lost or retired objects remembered at most (the longest unseen are forgotten first).
        motion_frames: an object last seen at most this many frames before must come back where its motion leads
            (0: appearance only, whatever the gap) ...
        motion_distance: ... its box centre within this many box sizes (the old box's longer side) of the old
            object's last box moved on at its last velocity.
    """

    enabled: bool = False
    embedding: str = "features"
    embedder: str = "free"
    embedder_weights: str | None = None
    threshold: float = 0.8
    margin: float = 0.05
    gallery_size: int = 8
    diversity: float = 0.05
    keep_seconds: float = 300.0
    max_objects: int = 100
    motion_frames: int = 30
    motion_distance: float = 2.0

    def __post_init__(self) -> None:
        _check_types(self)
        _check_choice("embedding", self.embedding, EMBEDDINGS)
        if self.embedder not in ("free", "timm") and not (self.embedder.startswith("timm:") and self.embedder[5:]):
            raise ValueError(f"reid.embedder must be free or timm:<model name> (e.g. timm:resnet18), got "
                             f"{self.embedder!r}")
        if self.embedder_weights is not None and not isinstance(self.embedder_weights, str):
            raise ValueError(f"reid.embedder_weights must be a path, random or null, got {self.embedder_weights!r}")
        _check_at_least(self, "reid", ("motion_frames", "motion_distance"), 0)
        _check_fractions(self, "reid", ("threshold", "margin", "diversity"))
        _check_at_least(self, "reid", ("gallery_size", "max_objects"), 1)
        if self.keep_seconds <= 0:
            raise ValueError(f"reid.keep_seconds must be positive, got {self.keep_seconds}")

    @property
    def timm_model(self) -> str | None:
        """The learned embedder's timm model name; None for the free embedding."""
        if self.embedder == "free":
            return None
        return self.embedder.removeprefix("timm").removeprefix(":") or DEFAULT_TIMM_EMBEDDER


@dataclass
class PipelineConfig:
    name: str = "custom"
    detector: DetectorConfig | None = field(default_factory=DetectorConfig)
    sam: SamConfig = field(default_factory=SamConfig)
    identity: IdentityConfig = field(default_factory=IdentityConfig)
    points: PointsConfig | None = None
    reid: ReidConfig = field(default_factory=ReidConfig)
    device: str = "auto"

    def __post_init__(self) -> None:
        _check_types(self)


_SECTIONS = {"detector": DetectorConfig, "sam": SamConfig, "identity": IdentityConfig, "points": PointsConfig,
             "reid": ReidConfig}
_OPTIONAL = ("detector", "points")  # sections that may be `null`: no detector, no point tracker


def builtin_pipelines() -> dict[str, Path]:
    """Ready pipelines shipped with the package (`autotrack/pipelines/*.yaml`), by name."""
    paths = sorted((Path(str(entry)) for entry in BUILTIN_DIR.iterdir()), key=lambda path: path.name)
    return {path.stem: path for path in paths if path.suffix == ".yaml"}


def find_pipeline(name_or_path: str) -> Path:
    """A built-in pipeline name, or a path to a YAML file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"pipeline file not found: {path}")
        return path
    pipelines = builtin_pipelines()
    if name_or_path not in pipelines:
        raise ConfigError(f"unknown pipeline {name_or_path!r}; choose one of {', '.join(pipelines)} or a YAML path")
    return pipelines[name_or_path]


def parse_set(item: str) -> tuple[str, object]:
    """`--set key.sub=value` as (key, value), the value read as YAML (512, false, [a, b]; other text stays text)."""
    key, equals, text = item.partition("=")
    if not equals or not key.strip():
        raise ConfigError(f"--set {item!r}: expected key=value, e.g. sam.imgsz=512")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        value = text
    return key.strip(), value


def load_config(name_or_path: str = DEFAULT_PIPELINE, overrides: Mapping[str, object] | None = None,
                labels: Mapping[str, str] | None = None) -> PipelineConfig:
    """Read a pipeline file and apply typed overrides by dotted key ({"sam.imgsz": 512, "detector.classes": [...]}).

    The overrides apply in order, one at a time, so an error names the one that caused it: as `labels` calls it
    (how the user gave it, e.g. "--imgsz 0" or "--set sam.imgsz=abc"), else as key=value.
    """
    path = find_pipeline(name_or_path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"pipeline file {path} is not valid YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"pipeline file {path} must hold a mapping of sections")
    data.setdefault("name", path.stem)
    config = from_dict(copy.deepcopy(data), where=str(path))
    for key, value in (overrides or {}).items():
        where = (labels or {}).get(key, f"{key}={value!r}")
        _merge(data, key, value, where)
        config = from_dict(copy.deepcopy(data), where=where)
    return config


def from_dict(data: dict, where: str = "config") -> PipelineConfig:
    """Build a PipelineConfig from plain data, refusing unknown keys and bad values with one line that says where."""
    values = _check_keys(data, PipelineConfig, where)
    for name, section in _SECTIONS.items():
        if name not in values:
            continue
        if values[name] is None and name in _OPTIONAL:
            continue
        if not isinstance(values[name], dict):
            raise ConfigError(f"{where}: section {name!r} must be a mapping")
        checked = _check_keys(values[name], section, f"{where}: {name}")
        try:
            values[name] = section(**checked)
        except (TypeError, ValueError) as error:
            raise ConfigError(f"{where}: {name}: {error}") from None
    try:
        return PipelineConfig(**values)
    except ValueError as error:
        raise ConfigError(f"{where}: {error}") from None


def _check_keys(data: dict, cls, where: str) -> dict:
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = set(data) - set(known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; known: {', '.join(known)}")
    return dict(data)


def _merge(data: dict, key: str, value: object, where: str) -> None:
    """Set `data[a][b] = value` for the key "a.b", making the sections on the way (a `null` one included)."""
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        if node.get(part) is None:
            node[part] = {}
        node = node[part]
        if not isinstance(node, dict):
            raise ConfigError(f"{where}: {part!r} is not a section")
    node[parts[-1]] = value
