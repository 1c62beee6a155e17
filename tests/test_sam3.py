"""SAM 3's tracker in the engine: parity with transformers' own streaming inference at a tiny random configuration,
its weights found by name in a detector-and-tracker checkpoint folder, and the default model's size.

The parity test mirrors the EdgeTAM one in tests/test_sam2_parity.py (same frames given letterboxed to both, masks
scaled back alike; its helpers are reused), with more of the engine in play: three objects (a box, a click, a box
that joins on a later frame) and a re-prompt. Every parameter of the random model is non-zero (see
`autotrack.models.sam3.build.randomize`), so no part can be left out by one side and still agree.

The re-prompted object is compared up to its re-prompt: the engine decodes a known object's new prompt with the
object's memory (as SAM2 refines a frame it has tracked), while transformers' streaming inference, like Meta's
video predictor, takes a prompt on a frame it has not tracked yet as a first prompt, decoded from the image alone
(docs/architecture.md, "Where the engine differs by design"). The other objects are compared on every frame, the
re-prompt's frame included, and every mask of both sides must be non-empty.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from test_sam2_parity import FRAMES, mask_iou, read_frames, square_video_session, streamed_masks
from transformers import (
    Sam3Config,
    Sam3LiteTextConfig,
    Sam3LiteTextModel,
    Sam3Model,
    Sam3TrackerVideoConfig,
    Sam3TrackerVideoModel,
    Sam3VideoConfig,
    Sam3VideoModel,
)
from transformers.image_utils import IMAGENET_STANDARD_MEAN, IMAGENET_STANDARD_STD

from autotrack import Prompt, SAM2Tracker
from autotrack.cli import main
from autotrack.eval.synthetic import make_scenario, render_frame, write_scenario
from autotrack.models.sam3 import FAMILY
from autotrack.models.sam3.build import build_sam3, detector_config, randomize, tracker_config
from autotrack.weights import SAM3_GATE, WeightsError, resolve_weights

IMGSZ = 224  # a 16x16 feature grid
JOIN, REPROMPT = 8, 15  # the frame the third object joins on, and the one the first is prompted again on


HIDDEN = 128  # memory is 64 channels (fixed in transformers): object pointers split into 2 memory tokens each
VISION = dict(backbone_config=dict(model_type="sam3_vit_model", hidden_size=32, intermediate_size=64,
                                   num_hidden_layers=2, num_attention_heads=2, window_size=4, global_attn_indexes=[1],
                                   pretrain_image_size=56), fpn_hidden_size=HIDDEN)


def tiny_detector(text_layers: int = 1) -> dict:
    """The concept detector's configuration at a tiny size: a 2-layer ViT (one windowed, one global layer),
    `text_layers` text encoder layers, one layer of each transformer, 20 queries."""
    small = dict(hidden_size=HIDDEN, num_layers=1, num_attention_heads=2, intermediate_size=64)
    return dict(
        vision_config=VISION,
        text_config=dict(hidden_size=32, intermediate_size=64, projection_dim=32, num_hidden_layers=text_layers,
                         num_attention_heads=2),
        geometry_encoder_config=small, detr_encoder_config=small, detr_decoder_config=dict(small, num_queries=20),
        mask_decoder_config=dict(hidden_size=HIDDEN, num_attention_heads=2),
    )


def tiny_config() -> Sam3VideoConfig:
    """SAM 3 (detector and tracker) at a tiny size (`tiny_detector`; the tracker's transformers 1 or 2 layers)."""
    hidden, vision, detector = HIDDEN, VISION, tiny_detector()
    tracker = dict(
        vision_config=dict(model_type="sam3_vision_model", **vision), prompt_encoder_config=dict(hidden_size=hidden),
        mask_decoder_config=dict(hidden_size=hidden, num_attention_heads=2, mlp_dim=64, iou_head_hidden_dim=hidden),
        memory_attention_hidden_size=hidden, memory_attention_num_layers=2,
        memory_attention_feed_forward_hidden_size=64, memory_encoder_hidden_size=hidden,
        mask_downsampler_embed_dim=hidden, memory_fuser_embed_dim=hidden, memory_fuser_intermediate_dim=64,
    )
    config = Sam3VideoConfig(detector_config=detector, tracker_config=tracker)
    config.image_size = IMGSZ
    return config


def random_checkpoint(folder: Path, lite_text: bool = False) -> Path:
    """A random detector-and-tracker checkpoint folder at `folder`, as facebook/sam3's is laid out; or with
    `lite_text` a detector with SAM 3 LiteText's text encoder (2 layers: its first and last are RepMixer blocks)."""
    torch.manual_seed(0)
    if lite_text:
        config = Sam3LiteTextConfig(**tiny_detector(2))
        config.image_size = IMGSZ
        model = Sam3LiteTextModel(config)
    else:
        model = Sam3VideoModel(tiny_config())
    randomize(model)
    assert all(bool((p != 0).any()) for p in model.parameters())
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return random_checkpoint(tmp_path_factory.mktemp("weights") / "sam3")


def clip(name: str, data_dir, tmp_path: Path) -> tuple[Path, dict[int, dict[int, Prompt]]]:
    """A video and its prompts by frame: object 1 a box, object 2 a click on frame 0; object 3 a box on `JOIN`;
    object 1 a box again on `REPROMPT`."""
    if name == "bedroom":
        video = data_dir() / "videos" / "bedroom.mp4"
        first, second, third, again = [290, 110, 480, 420], (150, 200), [50, 50, 200, 250], [280, 120, 470, 420]
    else:
        scenario = make_scenario("crossing", n_frames=FRAMES + 5, seed=1)
        video = write_scenario(scenario, tmp_path).video
        boxes = [render_frame(scenario, index)[1].boxes for index in (0, REPROMPT)]
        first, again, third = boxes[0][0], boxes[1][0], [200, 120, 300, 220]
        second = (boxes[0][1][:2] + boxes[0][1][2:]) / 2
    click = Prompt(points=np.array([second], np.float32), labels=np.array([1], np.int32))
    prompts = {0: {1: Prompt(box=list(map(float, first))), 2: click}, JOIN: {3: Prompt(box=list(map(float, third)))},
               REPROMPT: {1: Prompt(box=list(map(float, again)))}}
    return video, prompts


def transformers_masks(video: Path, prompts: dict[int, dict[int, Prompt]], weights: Path) -> list[dict]:
    """transformers' `Sam3TrackerVideoModel`, streaming frame by frame, with SAM 3's pixel statistics."""
    model = Sam3TrackerVideoModel.from_pretrained(weights, config=tracker_config(weights, IMGSZ)).eval()
    processor, session = square_video_session(IMGSZ, image_mean=IMAGENET_STANDARD_MEAN,
                                              image_std=IMAGENET_STANDARD_STD)
    masks = []
    for index, frame in enumerate(read_frames(video)):
        gain = IMGSZ / max(frame.shape[:2])
        for obj_id, prompt in prompts.get(index, {}).items():
            where = (dict(input_boxes=[[[float(c) * gain for c in prompt.box]]]) if prompt.box is not None else
                     dict(input_points=[[(prompt.points * gain).tolist()]], input_labels=[[prompt.labels.tolist()]]))
            processor.add_inputs_to_inference_session(session, frame_idx=index, obj_ids=obj_id,
                                                      original_size=(IMGSZ, IMGSZ), **where)
        if index in prompts:  # each call names only its own objects as new: objects of separate calls are all new
            session.obj_with_new_inputs = list(prompts[index])
        masks.append(dict(zip(session.obj_ids, streamed_masks(model, processor, session, frame, IMGSZ))))
    return masks


def our_masks(video: Path, prompts: dict[int, dict[int, Prompt]], weights: Path) -> list[dict]:
    tracker = SAM2Tracker("sam3", weights=str(weights), imgsz=IMGSZ, device="cpu", memory="fifo", kalman=False,
                          precision="fp32")
    return [{obj_id: state.mask for obj_id, state in tracker.step(frame, prompts.get(index)).items()}
            for index, frame in enumerate(read_frames(video))]


@pytest.mark.parametrize("name", ["synthetic", "bedroom"])
def test_masks_match_transformers_streaming_inference(name, request, tmp_path, checkpoint):
    video, prompts = clip(name, lambda: request.getfixturevalue("data_dir"), tmp_path)
    reference = transformers_masks(video, prompts, checkpoint)
    ours = our_masks(video, prompts, checkpoint)
    assert len(reference) == len(ours) == FRAMES
    for index, (expected, actual) in enumerate(zip(reference, ours)):
        assert sorted(expected) == sorted(actual) == ([1, 2, 3] if index >= JOIN else [1, 2])
        for obj_id, mask in expected.items():
            assert mask.any(), f"frame {index}, object {obj_id}: reference mask is empty, the comparison proves nothing"
            assert not mask.all(), f"frame {index}, object {obj_id}: reference mask is the whole frame"
            assert actual[obj_id].any(), f"frame {index}, object {obj_id}: our mask is empty"
            if obj_id == 1 and index >= REPROMPT:
                continue  # decoded with its memory here, from the image alone there (see the module's docstring)
            iou = mask_iou(mask, actual[obj_id])
            assert iou >= 0.99, f"frame {index}, object {obj_id}: IoU {iou:.4f}"


def test_a_checkpoint_folder_loads_by_name_and_anything_else_is_one_line(checkpoint, tmp_path, monkeypatch,
                                                                          no_network):
    monkeypatch.setenv("AUTOTRACK_WEIGHTS", str(checkpoint.parent))
    assert resolve_weights("sam3") == checkpoint
    loaded = build_sam3(None, IMGSZ).state_dict()
    source = Sam3VideoModel.from_pretrained(checkpoint).state_dict()
    assert loaded["vision_encoder.backbone.layers.1.mlp.fc1.weight"].equal(
        source["detector_model.vision_encoder.backbone.layers.1.mlp.fc1.weight"])  # the shared trunk
    assert loaded["vision_encoder.neck.fpn_layers.0.proj1.weight"].equal(source["tracker_neck.fpn_layers.0.proj1.weight"])
    assert loaded["memory_attention.layers.1.linear1.weight"].equal(
        source["tracker_model.memory_attention.layers.1.linear1.weight"])
    torch.save({"model": {}}, tmp_path / "sam3.pt")
    (tmp_path / "not-sam3").mkdir()
    for wrong, message in [(tmp_path / "sam3.pt", "SAM 3 loads a transformers checkpoint folder"),
                           (tmp_path / "not-sam3", "not a transformers checkpoint folder")]:
        with pytest.raises(WeightsError, match=message) as error:
            build_sam3(wrong, IMGSZ)
        assert "\n" not in str(error.value)


def test_gated_weights_are_never_downloaded_and_the_error_says_how_to_get_them(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("AUTOTRACK_WEIGHTS", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(WeightsError, match="gated.*facebook/sam3.*SAM License") as error:
        resolve_weights("sam3")
    assert "\n" not in str(error.value)
    listed = CliRunner().invoke(main, ["weights"]).output.splitlines()
    assert any(line.startswith("sam3 ") and "missing (gated by Meta's SAM License" in line for line in listed)


def millions(model_class, config) -> float:
    """The parameters of `model_class(config)` in millions, built on the meta device (no memory)."""
    with torch.device("meta"):
        return round(sum(p.numel() for p in model_class(config).parameters()) / 1e6, 1)


def test_default_configurations_have_transformers_parameter_counts(tmp_path):
    """The tracker and the detector read from a default detector-and-tracker configuration, and the tracker "random"
    builds, have transformers' SAM 3 parameters: 465.8 M tracker, 840.4 M detector, 548.1 M detector with the
    LiteText encoder; the whole checkpoint, 859.9 M float32 parameters, is the 3.4 GB the weights registry states."""
    Sam3VideoConfig().save_pretrained(tmp_path / "sam3")
    (tmp_path / "sam3" / "model.safetensors").touch()
    Sam3LiteTextConfig().save_pretrained(tmp_path / "lite")
    (tmp_path / "lite" / "model.safetensors").touch()
    assert millions(Sam3TrackerVideoModel, tracker_config(tmp_path / "sam3", 1008)) == 465.8
    assert millions(Sam3TrackerVideoModel, Sam3TrackerVideoConfig()) == 465.8
    assert millions(Sam3Model, detector_config(tmp_path / "sam3", 1008)) == millions(Sam3Model, Sam3Config()) == 840.4
    assert millions(Sam3LiteTextModel, detector_config(tmp_path / "lite", 1008)) == 548.1
    gigabytes = round(millions(Sam3VideoModel, Sam3VideoConfig()) * 4 / 1000, 1)
    assert f"about {gigabytes} GB" in SAM3_GATE


def test_family_rules():
    assert FAMILY.pixel_mean == FAMILY.pixel_std == tuple(255 * v for v in IMAGENET_STANDARD_MEAN)
    FAMILY.check_imgsz(1008)
    with pytest.raises(Exception, match=r"multiple of 14 for SAM 3 \(nearest: 1022 or 1036\), got 1024"):
        FAMILY.check_imgsz(1024)  # the default size of the other families: the message names the sizes near it
