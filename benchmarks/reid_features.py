"""How well the engine's free embedding tells the synthetic objects apart with random weights.

The image encoder's lowest-resolution features are pooled under each object's *true* mask (random weights make the
engine's own masks meaningless), on every third frame of the "mixed" synthetic clip, raw and less the frame's mean
(what `EngineSession(embedding="features")` computes). Per object: the mean and lowest cosine similarity between its
own frames, and the highest with any other object's frames. The re-entering object and its distractor are
look-alikes by design (same shape, size and texture).

    python benchmarks/reid_features.py                 # SAM2.1-tiny at 256 px
    python benchmarks/reid_features.py --model edgetam
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F

from autotrack import SAM2Tracker
from autotrack.engine.image import letterbox
from autotrack.eval.synthetic import make_scenario, render_frame


def pooled(tracker: SAM2Tracker, frame: np.ndarray, masks: np.ndarray, centred: bool) -> np.ndarray:
    """(N, C) unit embeddings of the objects' masks on one frame."""
    with torch.inference_mode():
        features = tracker._encode_image(frame)
    pixels = features.pixels().float()
    if centred:
        pixels = pixels - pixels.mean((-2, -1), keepdim=True)
    inside = np.stack([letterbox(m.astype(np.float32), tracker.imgsz, 0) for m in masks])
    weights = F.adaptive_avg_pool2d(torch.from_numpy(inside)[:, None], features.size)
    vectors = (weights * pixels).sum((-2, -1)) / weights.sum((-2, -1)).clamp_min(1e-6)
    return F.normalize(vectors, dim=-1).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sam2.1_t")
    parser.add_argument("--imgsz", type=int, default=256)
    parser.add_argument("--frames", type=int, default=40)
    args = parser.parse_args()
    scenario = make_scenario("mixed", n_frames=args.frames, size=(320, 240), seed=3)
    tracker = SAM2Tracker(args.model, weights="random", imgsz=args.imgsz, device="cpu")
    roles = {obj.object_id: obj.role for obj in scenario.objects}
    for centred in (False, True):
        vectors: dict[int, list[np.ndarray]] = {}
        for index in range(0, args.frames, 3):
            frame, truth = render_frame(scenario, index)
            keep = truth.masks.reshape(len(truth.ids), -1).sum(1) >= 30  # objects with some pixels in view
            for obj_id, vector in zip(truth.ids[keep], pooled(tracker, frame, truth.masks[keep], centred)):
                vectors.setdefault(int(obj_id), []).append(vector)
        print(f"{args.model} at {args.imgsz} px, features {'less the frame mean' if centred else 'raw'}:")
        for obj_id, own in sorted(vectors.items()):
            own = np.stack(own)
            others = max(float(np.max(own @ np.stack(v).T)) for i, v in vectors.items() if i != obj_id)
            print(f"  {roles[obj_id]:>15s}  own frames mean {(own @ own.T).mean():.2f} lowest {(own @ own.T).min():.2f}"
                  f"   closest other object {others:.2f}")


if __name__ == "__main__":
    main()
