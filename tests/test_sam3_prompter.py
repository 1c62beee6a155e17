"""SAM 3's concept detector as a prompter: its detections are `Sam3Model`'s, called directly name by name (or with
an example box) and post-processed by transformers' processor, at a tiny random configuration; names and examples
batched give what they give one by one; `set_classes` changes them from the next frame on."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from test_sam2_parity import mask_iou
from test_sam3 import IMGSZ, random_checkpoint
from transformers import CLIPTokenizer, Sam3ImageProcessor, Sam3LiteTextModel, Sam3Model, Sam3Processor

from autotrack import Prompt
from autotrack.engine.image import letterbox
from autotrack.prompters.manual import Example, ManualPrompts
from autotrack.prompters.base import PrompterError
from autotrack.prompters.sam3 import TEXT_TOKENS, Sam3Prompter
from autotrack.prompters.yoloe import EXAMPLE_NAME

NAMES = ["car", "person", "red bus"]
CONF = 0.2
EXAMPLES = [Example(np.array([40.0, 30.0, 120.0, 150.0]), class_name="box"), Example(np.array([200.0, 20.0, 300.0,
                                                                                              90.0]))]


def with_tokenizer(folder: Path) -> Path:
    """`folder` with a small CLIP tokenizer (letters only)."""
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab = {token: i for i, token in enumerate(["<|startoftext|>", "<|endoftext|>", *letters,
                                                  *(f"{c}</w>" for c in letters)])}
    CLIPTokenizer(vocab=vocab, merges=[]).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A random detector-and-tracker checkpoint folder with a tokenizer."""
    return with_tokenizer(random_checkpoint(tmp_path_factory.mktemp("weights") / "sam3"))


@pytest.fixture(scope="module")
def lite_checkpoint(tmp_path_factory) -> Path:
    """A random SAM 3 LiteText detector checkpoint folder with a tokenizer."""
    return with_tokenizer(random_checkpoint(tmp_path_factory.mktemp("weights") / "lite", lite_text=True))


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return (np.random.default_rng(0).random((180, 320, 3)) * 255).astype(np.uint8)


@torch.inference_mode()
def reference(checkpoint: Path, frame: np.ndarray, name: str | None = None, box: np.ndarray | None = None,
              model_class=Sam3Model) -> dict:
    """`Sam3Model` (or `model_class`) called directly on the frame as the prompter resizes it, with one name or one
    example box (the processor gives a box alone its text), post-processed by transformers' processor."""
    model = model_class.from_pretrained(checkpoint).eval()
    tokenizer = CLIPTokenizer.from_pretrained(checkpoint)
    processor = Sam3Processor(Sam3ImageProcessor(size={"height": IMGSZ, "width": IMGSZ}), tokenizer)
    square = cv2.resize(frame, (IMGSZ, IMGSZ), interpolation=cv2.INTER_LINEAR)[..., ::-1]
    pixels = torch.from_numpy(np.ascontiguousarray(square)).permute(2, 0, 1)[None].float() / 127.5 - 1.0
    if box is None:
        inputs = tokenizer([name], padding="max_length", max_length=TEXT_TOKENS, return_tensors="pt")
    else:
        inputs = processor(input_boxes=[[box.tolist()]], original_sizes=[list(frame.shape[:2])], return_tensors="pt")
        del inputs["original_sizes"]
    out = model(pixel_values=pixels, **inputs)
    found = processor.post_process_object_detection(out, threshold=CONF, target_sizes=[frame.shape[:2]])[0]
    return clipped(found["boxes"].numpy(), found["scores"], frame.shape[:2])


def clipped(boxes: np.ndarray, scores: torch.Tensor, shape: tuple[int, int]) -> dict:
    """Boxes (and their scores) clipped to a frame of `shape`, those left with no area dropped."""
    height, width = shape
    boxes = np.clip(boxes, 0, [width, height, width, height])
    inside = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    return dict(boxes=torch.from_numpy(boxes[inside]), scores=scores[inside])


def assert_same(ours, expected: dict) -> None:
    """Our detections are the reference's (scores and boxes, in score order)."""
    order = np.argsort(-ours.confidence)
    expected_order = torch.argsort(-expected["scores"])
    np.testing.assert_allclose(ours.confidence[order], expected["scores"][expected_order].numpy(), atol=1e-5)
    np.testing.assert_allclose(ours.xyxy[order], expected["boxes"][expected_order].numpy(), atol=1e-4)


@pytest.mark.parametrize("folder, model_class", [("checkpoint", Sam3Model), ("lite_checkpoint", Sam3LiteTextModel)])
def test_detections_are_sam3_models_name_by_name(folder, model_class, frame, request):
    checkpoint = request.getfixturevalue(folder)
    prompter = Sam3Prompter(checkpoint, text=NAMES, conf=CONF, imgsz=IMGSZ, device="cpu")
    assert isinstance(prompter.model, model_class)
    found = prompter(frame, 0)
    assert len(found) > 0
    for class_id, name in enumerate(NAMES):
        expected = reference(checkpoint, frame, name, model_class=model_class)
        ours = found[found.class_id == class_id]
        assert list(ours.data["class_name"]) == [name] * len(ours)
        assert_same(ours, expected)


def test_an_example_box_finds_what_sam3_model_finds_with_that_box(checkpoint, frame):
    prompter = Sam3Prompter(checkpoint, conf=CONF, imgsz=IMGSZ, device="cpu")
    assert len(prompter(frame, 0)) == 0  # nothing to find yet
    prompter.add_examples(frame, EXAMPLES[:1])
    found = prompter(frame, 0)
    assert len(found) > 0 and set(found.data["class_name"]) == {"box"}
    assert_same(found, reference(checkpoint, frame, box=EXAMPLES[0].box))
    assert prompter.trunk.passes == 1  # the example's frame was encoded once


def test_names_and_examples_batched_are_each_alone(checkpoint, frame):
    prompter = Sam3Prompter(checkpoint, text=NAMES, conf=CONF, imgsz=IMGSZ, device="cpu")
    names = prompter(frame, 0)
    assert len(names) > 0
    alone = {name: names[names.data["class_name"] == name] for name in NAMES}
    prompter.add_examples(frame, EXAMPLES)
    found = prompter(frame, 0)
    assert set(found.data["class_name"]) <= {*NAMES, "box", "object"}
    for name in NAMES:  # padded to the examples' length, masked: the same answers
        ours = found[found.data["class_name"] == name]
        assert_same(ours, dict(scores=torch.from_numpy(alone[name].confidence), boxes=torch.from_numpy(
            alone[name].xyxy)))
    for example, name in zip(EXAMPLES, ["box", "object"]):
        ours = found[found.data["class_name"] == name]
        assert len(ours) > 0 and set(ours.class_id) == {[*NAMES, "box", "object"].index(name)}
        assert_same(ours, reference(checkpoint, frame, box=example.box))
    prompter.reset()
    assert set(prompter(frame, 0).data["class_name"]) <= set(NAMES)  # examples gone


def test_names_batched_are_names_one_by_one_and_set_classes_changes_them(checkpoint, frame):
    prompter = Sam3Prompter(checkpoint, text=NAMES, conf=CONF, imgsz=IMGSZ, device="cpu", every=2)
    batched = prompter(frame, 0)
    assert prompter(frame, 1) is None  # every second frame
    encode, calls = prompter.model.get_text_features, []
    prompter.model.get_text_features = lambda **tokens: calls.append(1) or encode(**tokens)
    for class_id, name in [*enumerate(NAMES), *enumerate(NAMES)]:  # each class list twice
        prompter.set_classes([name])
        alone = prompter(frame, 3)  # the frame after a change is detected on, although every=2
        assert prompter(frame, 5) is None
        assert set(alone.data["class_name"]) <= {name}
        ours = batched[batched.class_id == class_id]
        np.testing.assert_allclose(np.sort(alone.confidence), np.sort(ours.confidence), atol=1e-5)
    prompter.reset()
    assert prompter(frame, 4).data["class_name"].tolist() == batched.data["class_name"].tolist()
    assert len(calls) == len(NAMES)  # text features once per class list


def test_sessions_share_the_model_and_keep_their_own_names_and_examples(checkpoint, frame):
    prompter = Sam3Prompter(checkpoint, text=NAMES, conf=CONF, imgsz=IMGSZ, device="cpu")
    settings = dict(classes=None, conf=1e-9, imgsz=IMGSZ, every=1, text=NAMES)  # a config's: every query answers
    first, second = prompter.session(**settings), prompter.session(**settings)
    assert first.model is second.model is prompter.model  # one copy of the weights: streams served together
    second.set_classes([NAMES[0]])
    second.add_examples(frame, [Example(np.array([10, 10, 60, 50]))])
    for index in range(2):  # the two take turns on the one model: each finds its own names and examples
        assert set(first(frame, index).data["class_name"]) == set(NAMES)
        assert set(second(frame, index).data["class_name"]) == {NAMES[0], EXAMPLE_NAME}
    third = prompter.session(**{**settings, "every": 3, "text": NAMES[1]})
    assert set(third(frame, 0).data["class_name"]) == {NAMES[1]} and third(frame, 1) is None
    with pytest.raises(PrompterError, match=f"built for imgsz {IMGSZ}"):
        prompter.session(**{**settings, "imgsz": IMGSZ + 14})
    with pytest.raises(PrompterError, match="closed-set"):
        prompter.session(**{**settings, "classes": ["person"]})


def test_the_sam3_pipeline_finds_by_name_and_tracks_with_one_checkpoint_folder(checkpoint, frame):
    from autotrack.pipeline.build import load_pipeline

    overrides = {"detector.weights": str(checkpoint), "detector.text": "car", "detector.imgsz": IMGSZ,
                 "detector.conf": CONF, "identity.birth_confidence": CONF, "sam.weights": str(checkpoint),
                 "sam.imgsz": IMGSZ, "device": "cpu"}
    pipeline = load_pipeline("sam3", [frame] * 3, overrides=overrides)
    results = list(pipeline.stream())
    assert len(results) == 3 and len(results[0].detections) > 0  # objects born from the names and followed
    assert set(results[0].detections.data["class_name"]) == {"car"}
    like = ManualPrompts.from_options(like=["40,30,120,150@1"])  # --like, on the second frame
    del overrides["detector.text"]
    overrides["detector.every"] = 1
    pipeline = load_pipeline("sam3", [np.roll(frame, 10 * i, axis=1) for i in range(3)], prompts=like,
                             overrides=overrides)
    results = list(pipeline.stream())
    assert len(results[0].detections) == 0 and len(results[1].detections) > 0
    assert set(results[1].detections.data["class_name"]) == {"object"}
    # the trunk is shared: frame 0 had nothing to find or follow; on frame 1 the example's encoding, the detector and
    # the tracker read one pass, and so did the detector and the tracker on frame 2
    assert results[-1].frame_index == 2 and pipeline.prompter.trunk.passes == 2


def test_one_trunk_pass_per_frame_serves_the_detector_and_the_tracker(checkpoint, frame):
    """With SAM 3's trunk shared, the detector (letterboxing frames as the engine does) and the tracker get the
    features, detections and masks they get computing their own, from one trunk pass per frame."""
    from autotrack.models import load_engine

    frames = [frame, np.roll(frame, 40, axis=1), np.roll(frame, 80, axis=1)]
    own_detector = Sam3Prompter(checkpoint, text=NAMES, conf=CONF, imgsz=IMGSZ, device="cpu")
    own_detector.letterbox = True
    own_tracker = load_engine("sam3", checkpoint, IMGSZ, "cpu", "fp32")
    detector = Sam3Prompter(checkpoint, text=NAMES, conf=CONF, imgsz=IMGSZ, device="cpu")
    tracker = load_engine("sam3", checkpoint, IMGSZ, "cpu", "fp32")
    detector.share_trunk(tracker.parts.model)
    assert tracker.parts.model.vision_encoder.backbone is detector.trunk
    square = torch.from_numpy(letterbox(frame, IMGSZ)[..., ::-1].copy()).permute(2, 0, 1)[None].float()
    pixels = (square - 127.5) / 127.5  # as the engine normalises it
    with torch.inference_mode():
        own_features, features = own_tracker.parts.encode_image(pixels), tracker.parts.encode_image(pixels)
    for own, shared in [(own_features.vision, features.vision), *zip(own_features.high_res, features.high_res)]:
        torch.testing.assert_close(shared, own, atol=1e-5, rtol=1e-5)
    own_session, session = own_tracker.session(kalman=False), tracker.session(kalman=False)
    for index, image in enumerate(frames):
        own, shared = own_detector(image, index), detector(image, index)
        assert len(shared) > 0 and shared.class_id.tolist() == own.class_id.tolist()
        np.testing.assert_allclose(shared.xyxy, own.xyxy, atol=1e-4)
        prompts = {i + 1: Prompt(box=box.tolist()) for i, box in enumerate(shared.xyxy[:2])} if index == 0 else None
        own_states, states = own_session.step(image, prompts), session.step(image, prompts)
        assert sorted(states) == sorted(own_states) == [1, 2]
        for obj_id, state in states.items():
            assert state.mask.any() and mask_iou(state.mask, own_states[obj_id].mask) >= 0.99
    assert detector.trunk.passes == len(frames)  # one per frame for both (frame 0's: for the features above)


def test_the_trunk_is_shared_only_from_one_folder_at_one_input_size(checkpoint, tmp_path):
    from autotrack.config import load_config
    from autotrack.pipeline.build import shares_sam3_trunk

    (tmp_path / "other").symlink_to(checkpoint, target_is_directory=True)  # the same folder by another path
    one = {"detector.weights": str(checkpoint), "sam.weights": str(tmp_path / "other"), "detector.imgsz": IMGSZ,
           "sam.imgsz": IMGSZ}
    assert shares_sam3_trunk(load_config("sam3", one))
    for change in [{"sam.imgsz": 2 * IMGSZ}, {"sam.weights": "random"}, {"sam.model": "edgetam", "sam.imgsz": 256},
                   {"sam.compile": True}, {"detector.weights": str(tmp_path)}]:
        assert not shares_sam3_trunk(load_config("sam3", {**one, **change})), change


def test_letterboxed_frames_give_sam3_models_boxes_scaled_back_to_the_frame(checkpoint, frame):
    """How the detector reads frames when it shares the tracker's trunk: `Sam3Model` on the letterboxed frame, its
    boxes scaled back by the letterbox's gain and clipped to the frame."""
    prompter = Sam3Prompter(checkpoint, text=NAMES[:1], conf=CONF, imgsz=IMGSZ, device="cpu")
    prompter.letterbox = True
    found = prompter(frame, 0)
    expected = reference(checkpoint, letterbox(frame, IMGSZ), NAMES[0])  # square already: not stretched
    expected = clipped(expected["boxes"].numpy() * max(frame.shape[:2]) / IMGSZ, expected["scores"], frame.shape[:2])
    assert len(found) > 0 and len(found) == len(expected["scores"])
    assert_same(found, expected)
