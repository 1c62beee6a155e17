"""YoloePrompter on the real YOLOE and YOLO-World architectures, built from their yaml with random weights. The text
encoders' weights cannot be downloaded here, so the tests supply text features; a random model scores everything
low, so they detect at a tiny confidence threshold: what is tested is how names, embeddings and detections connect.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from autotrack.cli import main
from autotrack.prompters.manual import Example
from autotrack.prompters.yolo import PrompterError, YoloPrompter
from autotrack.prompters.yoloe import YoloePrompter, parse_text
from autotrack.weights import WeightsError

FRAME = (np.random.default_rng(0).random((120, 160, 3)) * 255).astype(np.uint8)


class RandomTextEncoder:
    """Stands in for MobileCLIP / CLIP: unit-length random features, one per name, remembering what it encoded."""

    def __init__(self) -> None:
        self.generator = torch.Generator().manual_seed(0)
        self.encoded: list[list[str]] = []

    def __call__(self, names: list[str]) -> torch.Tensor:
        self.encoded.append(list(names))
        return torch.nn.functional.normalize(torch.randn(1, len(names), 512, generator=self.generator), dim=-1)


@pytest.fixture(scope="module")
def yoloe():
    encoder = RandomTextEncoder()
    return YoloePrompter("random", text="forklift, person in a hard hat", conf=1e-9, imgsz=160, every=3,
                         device="cpu", text_encoder=encoder), encoder


def test_text_prompts_name_the_detections(yoloe):
    prompter, encoder = yoloe
    assert encoder.encoded[0] == ["forklift", "person in a hard hat"]
    detections = prompter(FRAME, 0)
    assert prompter.model.model.pe.shape == (1, 2, 512)  # YOLOE's text head made the class embeddings
    assert len(detections) > 0 and detections.mask is None
    names = detections.data["class_name"]
    assert set(names) <= {"forklift", "person in a hard hat"}
    assert all(prompter.names[int(c)] == n for c, n in zip(detections.class_id, names))
    assert prompter(FRAME, 1) is None  # every=3: frame 1 is skipped


def test_set_classes_applies_on_the_next_frame_and_keeps_class_ids(yoloe):
    prompter, encoder = yoloe
    prompter.set_classes(["car", "forklift"])
    assert encoder.encoded[-1] == ["car", "forklift"]  # encoded in the caller's thread
    assert prompter.vocabulary == ["forklift", "person in a hard hat"]  # the model changes between frames only
    detections = prompter(FRAME, 2)  # every=3 would skip frame 2: a change runs the detector at once
    assert detections is not None and len(detections) > 0
    assert prompter.vocabulary == ["car", "forklift"]
    assert set(detections.data["class_name"]) <= {"car", "forklift"}
    assert prompter.names == {0: "forklift", 1: "person in a hard hat", 2: "car"}  # a name keeps its id
    assert all(prompter.names[int(c)] == n for c, n in zip(detections.class_id, detections.data["class_name"]))
    with pytest.raises(PrompterError, match="no class names"):
        prompter.set_classes(" , ")
    assert prompter(FRAME, 3) is not None and prompter.vocabulary == ["car", "forklift"]  # a bad call changes nothing


def test_examples_become_classes_through_the_visual_prompt_encoder(yoloe):
    prompter, _ = yoloe
    prompter.add_examples(FRAME, [Example(np.array([10, 10, 60, 50]), 4, "crate"), Example(np.array([70, 20, 150, 110]))])
    assert prompter.vocabulary == ["car", "forklift", "crate", "object"]
    detections = prompter(FRAME, 4)  # the example frame is detected too
    embeddings = prompter.model.model.pe
    assert embeddings.shape == (1, 4, 512)
    assert torch.allclose(embeddings[0, 2:].norm(dim=-1), torch.ones(2), atol=1e-4)  # SAVPE's unit embeddings
    assert len(detections) > 0 and set(detections.data["class_name"]) <= set(prompter.vocabulary)


def test_reset_goes_back_to_the_text_it_was_built_with(yoloe):
    prompter, encoder = yoloe
    prompter.set_classes(["pallet"])
    encoded = len(encoder.encoded)
    prompter.reset()  # a new video: no examples, no change pending, class ids from 0 again
    assert len(encoder.encoded) == encoded  # the text it was built with is not encoded again
    assert prompter.vocabulary == ["forklift", "person in a hard hat"]
    assert prompter.names == {0: "forklift", 1: "person in a hard hat"}
    assert prompter(FRAME, 1) is None  # every=3, and the change to "pallet" is gone
    assert set(prompter(FRAME, 3).data["class_name"]) <= {"forklift", "person in a hard hat"}
    assert prompter.model.model.pe.shape == (1, 2, 512)


def test_sessions_share_the_model_and_keep_their_own_classes(yoloe):
    prompter, _ = yoloe
    first, second = prompter.session(), prompter.session()
    assert first.model is second.model is prompter.model  # one copy of the weights
    second.set_classes(["car"])
    for index in range(2):  # the two take turns on the one model: each detects with its own classes
        assert set(first(FRAME, 3 * index).data["class_name"]) <= {"forklift", "person in a hard hat"}
        assert set(second(FRAME, 3 * index).data["class_name"]) == {"car"}
    assert first.vocabulary == ["forklift", "person in a hard hat"] and second.vocabulary == ["car"]
    third = prompter.session(classes=None, conf=1e-9, imgsz=160, every=1, text="pallet")  # a config's settings
    assert third.model is prompter.model and third.vocabulary == ["pallet"] and third(FRAME, 1) is not None


def test_yolo_world_takes_text_but_no_examples():
    prompter = YoloePrompter("yolov8s-worldv2.yaml", text=["forklift"], conf=1e-9, imgsz=160, device="cpu",
                             text_encoder=RandomTextEncoder())
    assert set(prompter(FRAME, 0).data["class_name"]) == {"forklift"}
    with pytest.raises(PrompterError, match="YOLO-World finds objects by name only"):
        prompter.add_examples(FRAME, [Example(np.array([10, 10, 60, 50]))])


def test_a_closed_set_yolo_changes_the_classes_it_keeps_on_the_next_frame():
    prompter = YoloPrompter("random", every=5, device="cpu")
    assert prompter.classes is None and prompter(FRAME, 1) is None
    prompter.set_classes(["car", "person"])
    with pytest.raises(PrompterError, match="unknown class 'forklift'"):
        prompter.set_classes(["forklift"])
    assert prompter(FRAME, 2) is not None and prompter.classes == [2, 0]  # detected although every=5
    assert prompter(FRAME, 3) is None
    other = prompter.session()  # another stream on the same model, with the classes it was built with
    assert other.model is prompter.model and other.classes is None and prompter.classes == [2, 0]


def test_a_closed_set_detector_or_classes_are_refused():
    with pytest.raises(PrompterError, match="not an open-vocabulary model"):
        YoloePrompter("yolo11n.yaml", text=["car"], text_encoder=RandomTextEncoder())
    with pytest.raises(PrompterError, match="closed-set"):
        YoloePrompter("random", classes=["person"], text=["car"])
    assert parse_text("forklift,  person in a hard hat ,") == ["forklift", "person in a hard hat"]


def test_missing_text_encoder_is_one_line_error(no_network):
    with pytest.raises(WeightsError) as error:
        YoloePrompter("random", text=["forklift"], imgsz=160, device="cpu")
    message = str(error.value)
    assert "mobileclip_blt.ts" in message and "weights" in message and "https://" in message
    assert "\n" not in message


def test_track_with_text_stops_with_the_weights_error_when_the_text_encoder_is_missing(no_network, data_dir):
    video = str(data_dir / "videos" / "bedroom.mp4")
    result = CliRunner().invoke(main, ["track", video, "--text", "forklift, person in a hard hat", "--detector",
                                       "random", "--sam-weights", "random", "--imgsz", "64"], catch_exceptions=False)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: YOLOE text encoder mobileclip_blt.ts not found"), result.output
