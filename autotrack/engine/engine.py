"""The streaming engine: follow many objects frame by frame with bounded memory, for any model family.

Built on the parts of a model (image encoder, memory attention, prompt encoder, mask decoder, memory encoder; see
`autotrack.engine.parts`), not on a video predictor, because a camera needs what those predictors cannot do: frames
arrive one at a time, objects join, are re-prompted or leave on any frame, and memory must not grow with time.

Two objects, as a process serves several streams with one set of models:
- `EngineModel`: a family's parts with their weights, input size, device and precision: loaded once per process
  (`autotrack.models.load_engine`).
- `EngineSession`: one video or stream on a model (`EngineModel.session()`): its objects, their memory stores and
  Kalman scorers, its frame count. Sessions share the model's weights and never each other's state.

Per frame: the image encoder runs once and its features are shared by every object; objects with the same memory
layout go through memory attention, the mask decoder and the memory encoder together as one batch; each object's
candidate mask is chosen by its own Kalman motion scorer (SAMURAI) and its memory store keeps what its policy will
attend to next. That filter is the object's one motion model: its prediction for the next frame goes out in
`ObjectState.next_box`, which the identity manager matches and coasts with.
"""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from autotrack.config import EMBEDDINGS  # what `ObjectState.embedding` may hold
from autotrack.engine.family import Family
from autotrack.engine.image import letterbox
from autotrack.engine.masks import upscale_masks
from autotrack.engine.memory import MemoryEntry, ObjectMemory, memory_policy
from autotrack.engine.parts import ImageFeatures, ModelParts
from autotrack.engine.precision import autocast, compute_dtype
from autotrack.engine.scoring import MotionScorer
from autotrack.errors import InputError
from autotrack.types import ObjectState, Prompt, Status, Tracker

STAGES = ("image_encoder", "memory_attention", "decoder", "memory_encoder")


@dataclass
class EngineModel:
    """A loaded model the engine runs: built once per process, shared by every session.

    Args:
        parts: the family's parts, weights loaded, on `device`.
        family: how the family encodes pixels and prompts (`autotrack.engine.family.Family`).
        imgsz: square input size of the model.
        device: where the parts run.
        precision: the compute precision the parts were built for ("fp32", "bf16", "fp16"; already resolved).
        motion_weight: SAMURAI's weight of the motion score for this model.
    """

    parts: ModelParts
    family: Family
    imgsz: int
    device: torch.device
    precision: str
    motion_weight: float = 0.25

    def session(self, memory: str = "motion-aware", kalman: bool = True, profile: bool = False,
                embedding: str | None = None) -> EngineSession:
        """A new video or stream on this model: no objects yet, frames counted from 0."""
        return EngineSession(self, memory, kalman, profile, embedding)


@dataclass
class _Object:
    memory: ObjectMemory
    scorer: MotionScorer


@dataclass
class _Decoded:
    """One frame's decoder output for a batch of objects, with the chosen candidate per object."""

    low_res: torch.Tensor  # (B, 1, S/4, S/4) logits of the chosen mask
    obj_ptr: torch.Tensor  # (B, C)
    object_score: torch.Tensor  # (B, 1) logits
    affinity: np.ndarray  # (B,) predicted IoU of the chosen mask
    motion: list[float | None]


class EngineSession(Tracker):
    """Segment and follow objects in one stream of frames, on a shared `EngineModel`.

    Args:
        model: the loaded model (`autotrack.models.load_engine`).
        memory: "motion-aware" (SAMURAI: attend to reliable frames) or "fifo" (plain SAM2: the last 6 frames).
        kalman: choose among candidate masks with a per-object Kalman filter (SAMURAI); False takes the
            candidate with the best predicted IoU, as SAM2 does (the filter still follows each object, for
            `ObjectState.next_box`).
        profile: accumulate seconds per stage in `timings` (synchronises CUDA, so leave off in production).
        embedding: give each visible object an appearance vector (`ObjectState.embedding`, unit length, for
            re-identification): "features", the image encoder's lowest-resolution features averaged under the
            object's mask, less their mean over the frame (what the object looks like, computed anyway; what the
            whole frame shares tells no objects apart); "pointer", SAM's object pointer (what the
            decoder keeps to find the object again, shaped by the prompt and memory as much as by looks); None
            for none (nothing computed).

    Memory entries are kept in the compute dtype (float16 under fp32, as SAM2's video predictors keep them); masks,
    scores, boxes and the Kalman filters are float32 whatever the precision.
    """

    def __init__(self, model: EngineModel, memory: str = "motion-aware", kalman: bool = True,
                 profile: bool = False, embedding: str | None = None) -> None:
        if embedding is not None and embedding not in EMBEDDINGS:
            raise InputError(f"embedding must be one of {', '.join(EMBEDDINGS)} or None, got {embedding!r}")
        self._policy = memory_policy(memory)
        self.model = model
        self.parts = model.parts
        self.family = model.family
        self.imgsz = model.imgsz
        self.device = model.device
        self.precision = model.precision
        self._dtype = compute_dtype(self.precision)
        self._memory_dtype = torch.float16 if self._dtype == torch.float32 else self._dtype
        self.memory_policy = memory
        self.kalman = kalman
        self.profile = profile
        self.embedding = embedding
        self.timings: dict[str, float] = defaultdict(float)
        self.frame_index = -1
        self._objects: dict[int, _Object] = {}
        self._mean = torch.tensor(model.family.pixel_mean, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(model.family.pixel_std, device=self.device).view(1, 3, 1, 1)

    # ----------------------------------------------------------------------------------------------- public API
    @property
    def object_ids(self) -> list[int]:
        """Ids of the objects followed now."""
        return list(self._objects)

    def memory_entries(self, obj_id: int) -> int:
        """Memory entries (conditioning + recent) object `obj_id` holds now."""
        return len(self._objects[obj_id].memory)

    def object_memory(self, obj_id: int) -> ObjectMemory:
        """Object `obj_id`'s memory store, to inspect (its entries, pointers and their dtypes); not to modify."""
        return self._objects[obj_id].memory

    def remove(self, obj_id: int) -> None:
        """Stop following an object and free its memory."""
        self._objects.pop(obj_id, None)

    def rename(self, obj_id: int, new_id: int) -> None:
        """Follow object `obj_id` under `new_id` from now on, with its memory and motion filter."""
        if new_id in self._objects:
            raise ValueError(f"cannot rename object {obj_id} to {new_id}: {new_id} is followed")
        self._objects[new_id] = self._objects.pop(obj_id)

    def reset(self) -> None:
        """Forget every object and start counting frames again."""
        self._objects.clear()
        self.frame_index = -1

    @torch.inference_mode()
    def step(self, frame: np.ndarray, prompts: dict[int, Prompt] | None = None) -> dict[int, ObjectState]:
        """Process the next frame (HxWx3 BGR uint8, any size) and return every object's state on it.

        `prompts` maps object ids to prompts on this frame: an unknown id starts a new object, a known id
        re-prompts it (its memory is kept and the prompt becomes a conditioning frame).
        """
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise InputError(f"expected an HxWx3 uint8 BGR frame, got shape {frame.shape} and dtype {frame.dtype}")
        self.frame_index += 1
        prompts = prompts or {}
        if not prompts and not self._objects:
            return {}
        gain = self.imgsz / max(frame.shape[:2])
        results: dict[int, _Decoded] = {}
        with self._stage("image_encoder"):
            features = self._encode_image(frame)
        for obj_id, prompt in prompts.items():
            results[obj_id] = self._prompt_object(obj_id, prompt, gain, features)
        for group, selections in self._groups_by_layout([i for i in self._objects if i not in prompts]):
            decoded = self._track(group, selections, gain, features)
            results.update(zip(group, self._split(decoded, len(group))))
        states = self._states(results, frame.shape[:2], prompted=set(prompts))
        if self.embedding is not None:
            for obj_id, vector in self._embeddings(results, features).items():
                states[obj_id].embedding = vector
        return states

    # --------------------------------------------------------------------------------------------- frame stages
    def _encode_image(self, frame: np.ndarray) -> ImageFeatures:
        """Letterbox to a square (top-left, as ultralytics' SAM predictors), normalise, run the image encoder."""
        image = letterbox(frame, self.imgsz)[..., ::-1].transpose(2, 0, 1)  # BGR -> RGB, HWC -> CHW
        image = torch.from_numpy(np.ascontiguousarray(image)).to(self.device)[None].float()
        return self.parts.encode_image((image - self._mean) / self._std)

    def _prompt_object(self, obj_id, prompt: Prompt, gain: float, features: ImageFeatures) -> _Decoded:
        """Segment a prompted object: a new one from the image alone, a known one also from its memory."""
        known = obj_id in self._objects
        if not known:
            policy = self._policy()
            scorer = MotionScorer(weight=self.model.motion_weight, scoring=self.kalman)
            self._objects[obj_id] = _Object(ObjectMemory(policy), scorer)
        obj = self._objects[obj_id]
        if prompt.mask is not None and prompt.box is None and prompt.points is None:
            mask = letterbox(prompt.mask.astype(np.float32), self.imgsz, 0, cv2.INTER_NEAREST)
            mask = torch.from_numpy(mask).to(self.device)[None, None]
            with self._stage("decoder"):
                low_res, obj_ptr, score = self.parts.mask_as_output(mask, features)
            decoded = _Decoded(low_res, obj_ptr, score, np.ones(1, np.float32), [None])  # the mask is the answer
        else:
            if known:
                pix = self._condition_on_memory([obj.memory.select(self.frame_index)], features)
            else:  # an initial conditioning frame: no memory
                pix = self.parts.no_memory(features)
            points, labels = self._prompt_points(prompt, gain)
            multimask = labels.shape[1] <= self.family.multimask_max_points
            decoded = self._decode(pix, features.high_res, (points, labels), multimask, [None], gain)
        obj.scorer.start(self._boxes(decoded.low_res, gain)[0, 0])
        self._remember([obj_id], decoded, features, conditioning=True)
        return decoded

    def _track(self, obj_ids: list[int], selections: list, gain: float, features: ImageFeatures) -> _Decoded:
        """Follow objects without a prompt on this frame, as one batch (`selections`: their selected memory)."""
        pix = self._condition_on_memory(selections, features)
        scorers = [self._objects[i].scorer for i in obj_ids]
        decoded = self._decode(pix, features.high_res_batch(len(obj_ids)), None, True, scorers, gain)
        self._remember(obj_ids, decoded, features, conditioning=False)
        return decoded

    def _condition_on_memory(self, selections: list, features: ImageFeatures) -> torch.Tensor:
        """Memory attention of the current image features to each object's selected memory (SAM2's rule).

        `selections` holds each object's `ObjectMemory.select` result; the objects must have the same numbers of
        memory entries and pointers, while their temporal encodings may differ.
        """
        parts = self.parts
        memory, memory_pos = [], []
        for slot in range(len(selections[0][0])):
            entries = [spatial[slot] for spatial, _ in selections]
            tokens = torch.cat([entry.features for _, entry in entries]).to(self._dtype)  # (B, T, mem_dim)
            memory.append(tokens.transpose(0, 1))
            memory_pos.append(parts.memory_position(torch.tensor([t_pos for t_pos, _ in entries], device=self.device)))
        num_ptr_tokens = 0
        if selections[0][1]:
            ptrs = torch.stack([torch.cat([p for _, p in pointers]) for _, pointers in selections], dim=1)  # P, B, C
            distances = torch.tensor([[d for d, _ in pointers] for _, pointers in selections], device=self.device)
            ptrs, ptr_pos = parts.pointer_memory(ptrs, distances.float())
            memory.append(ptrs)
            memory_pos.append(ptr_pos)
            num_ptr_tokens = ptrs.shape[0]
        with self._stage("memory_attention"):
            return parts.attend(features, torch.cat(memory), torch.cat(memory_pos), len(selections[0][0]),
                                num_ptr_tokens)

    def _decode(self, pix, high_res, point_inputs, multimask: bool, scorers, gain: float) -> _Decoded:
        """Prompt encoder + mask decoder; then each object's candidate is chosen (Kalman or best predicted IoU)."""
        batch = pix.shape[0]
        if point_inputs is None:  # no prompt: one padding point, as SAM2 does
            point_inputs = (
                torch.zeros(batch, 1, 2, device=self.device),
                -torch.ones(batch, 1, dtype=torch.int32, device=self.device),
            )
        with self._stage("decoder"):
            heads = self.parts.decode(pix.float(), high_res, *point_inputs, multimask)
            masks, ious, tokens, score = heads.masks, heads.ious, heads.tokens, heads.object_score
            masks = torch.where(score[:, :, None, None] > 0, masks, self.family.no_object_logit)
        ious_np = ious.float().cpu().numpy()
        boxes = self._boxes(masks, gain) if any(s is not None for s in scorers) else None
        chosen, motion = [], []
        for b, scorer in enumerate(scorers):
            if scorer is None:
                chosen.append(int(np.argmax(ious_np[b])))
                motion.append(None)
            else:
                index, score_b = scorer.choose(boxes[b], ious_np[b])
                chosen.append(index)
                motion.append(score_b)
        rows = torch.arange(batch, device=self.device)
        index = torch.tensor(chosen, device=self.device)
        token = tokens[rows, index] if tokens.shape[1] > 1 else tokens[:, 0]
        obj_ptr = self.parts.object_pointer(token, score)
        return _Decoded(masks[rows, index][:, None], obj_ptr, score, ious_np[np.arange(batch), chosen], motion)

    def _remember(self, obj_ids: list[int], decoded: _Decoded, features: ImageFeatures, conditioning: bool) -> None:
        """Encode the chosen masks into memory entries and hand them to each object's store."""
        high_res = F.interpolate(decoded.low_res, size=(self.imgsz, self.imgsz), mode="bilinear", align_corners=False)
        with self._stage("memory_encoder"):
            tokens = self.parts.encode_memory(features, high_res, decoded.object_score, conditioning)
        tokens = tokens.to(self._memory_dtype)
        obj_ptrs = decoded.obj_ptr.to(self._dtype)
        scores = decoded.object_score[:, 0].float().cpu().numpy()
        for b, obj_id in enumerate(obj_ids):
            entry = MemoryEntry(
                frame_index=self.frame_index,
                features=tokens[b : b + 1],
                obj_ptr=obj_ptrs[b : b + 1],
                affinity=float(decoded.affinity[b]),
                object_score=float(scores[b]),
                motion=decoded.motion[b],
            )
            self._objects[obj_id].memory.add(entry, conditioning)

    def _embeddings(self, results: dict[int, _Decoded], features: ImageFeatures) -> dict[int, np.ndarray | None]:
        """Each object's unit-length appearance vector (see `embedding`), None where its mask is empty."""
        ids = list(results)
        low_res = torch.cat([results[i].low_res for i in ids]).float()  # (N, 1, 4h, 4w) logits
        inside = (low_res > 0).float()
        if self.embedding == "pointer":
            vectors = torch.cat([results[i].obj_ptr for i in ids]).float()
        else:  # the share of each feature cell under the mask weighs that cell's features, less the frame's mean
            weights = F.adaptive_avg_pool2d(inside, features.size)  # (N, 1, h, w)
            pixels = features.pixels().float()
            pooled = (weights * (pixels - pixels.mean((-2, -1), keepdim=True))).sum((-2, -1))
            vectors = pooled / weights.sum((-2, -1)).clamp_min(1e-6)
        vectors = F.normalize(vectors, dim=-1).cpu().numpy()
        visible = inside.flatten(1).any(1).cpu().numpy()
        return {obj_id: vectors[k] if visible[k] else None for k, obj_id in enumerate(ids)}

    # ------------------------------------------------------------------------------------------------- helpers
    def _groups_by_layout(self, obj_ids: list[int]) -> list[tuple[list[int], list]]:
        """Objects whose selected memories have equal sizes can share one batch through the heavy modules;
        returns (ids, their selections) per group, so the selection is made once per object and frame."""
        groups: dict[tuple[int, int], tuple[list[int], list]] = defaultdict(lambda: ([], []))
        for obj_id in obj_ids:
            selection = self._objects[obj_id].memory.select(self.frame_index)
            ids, selections = groups[(len(selection[0]), len(selection[1]))]
            ids.append(obj_id)
            selections.append(selection)
        return list(groups.values())

    @staticmethod
    def _split(decoded: _Decoded, n: int) -> list[_Decoded]:
        return [
            _Decoded(
                decoded.low_res[b : b + 1],
                decoded.obj_ptr[b : b + 1],
                decoded.object_score[b : b + 1],
                decoded.affinity[b : b + 1],
                decoded.motion[b : b + 1],
            )
            for b in range(n)
        ]

    def _prompt_points(self, prompt: Prompt, gain: float) -> tuple[torch.Tensor, torch.Tensor]:
        """A box and clicks as the family's prompt tokens, in input pixels."""
        points, labels = self.family.prompt_tokens(prompt.box, prompt.points, prompt.labels)
        coords = torch.from_numpy(points * gain).float().to(self.device)[None]
        return coords, torch.from_numpy(labels).to(self.device)[None]

    def _boxes(self, masks: torch.Tensor, gain: float) -> np.ndarray:
        """xyxy boxes in frame pixels of low-resolution mask logits (B, M, h, w) -> (B, M, 4); zeros when empty."""
        fg = masks > 0
        h, w = fg.shape[-2:]
        rows, cols = fg.any(dim=-1), fg.any(dim=-2)
        ys = torch.arange(h, device=fg.device)
        xs = torch.arange(w, device=fg.device)
        y0 = torch.where(rows, ys, h).amin(-1)
        y1 = torch.where(rows, ys, -1).amax(-1) + 1
        x0 = torch.where(cols, xs, w).amin(-1)
        x1 = torch.where(cols, xs, -1).amax(-1) + 1
        boxes = torch.stack([x0, y0, x1, y1], dim=-1).float() * (self.imgsz / w) / gain
        boxes[~rows.any(-1)] = 0
        return boxes.cpu().numpy()

    def _states(self, results: dict[int, _Decoded], shape: tuple[int, int], prompted: set[int]) -> dict[int, ObjectState]:
        """Full-resolution masks, boxes and scores, scaled back as ultralytics' SAM predictors do."""
        ids = list(results)
        low_res = torch.cat([results[i].low_res[:, 0] for i in ids])  # (N, h, w)
        occurrence = torch.cat([results[i].object_score[:, 0] for i in ids]).float().sigmoid().cpu().numpy()
        gain = min(self.imgsz / s for s in shape)
        content = [round(s * gain) * size / self.imgsz for s, size in zip(shape, low_res.shape[1:])]
        masks, boxes = upscale_masks(low_res, shape, content)
        return {
            obj_id: ObjectState(
                mask=masks[k],
                box=boxes[k],
                affinity=float(results[obj_id].affinity[0]),
                occurrence=float(occurrence[k]),
                motion=results[obj_id].motion[0],
                status=Status.PROMPTED if obj_id in prompted else Status.TRACKED,
                next_box=self._objects[obj_id].scorer.next_box,
            )
            for k, obj_id in enumerate(ids)
        }

    @contextmanager
    def _stage(self, name: str):
        """Run a model stage in the compute precision, timed when profiling (CUDA work is synchronised so the time
        lands in the right stage). The mask decoder always runs in float32: it makes the masks and scores, its
        rounding would move mask borders, and it costs little; its inputs are float32 (`ImageFeatures.high_res`)."""
        with autocast(self.device, "fp32" if name == "decoder" else self.precision):
            if not self.profile:
                yield
                return
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            start = time.perf_counter()
            yield
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            self.timings[name] += time.perf_counter() - start
