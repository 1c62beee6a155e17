"""The pipeline: source -> prompter (and point tracker) -> identity manager -> engine -> sinks, frame by frame.

`loop` holds the frame loop (`Pipeline`, `RunSummary`); `build` makes pipelines from a config: `load_models` once
per process, `new_session` per video or stream, `load_pipeline` both at once. Imports point down: this package uses
sources, prompters, points, identity, the engine and sinks.
"""

from autotrack.pipeline.build import (
    Models,
    build_points,
    build_prompter,
    check_resources,
    check_weights,
    load_models,
    load_pipeline,
    new_session,
    run_inputs,
)
from autotrack.pipeline.loop import Pipeline, RunSummary

__all__ = [
    "Models",
    "Pipeline",
    "RunSummary",
    "build_points",
    "build_prompter",
    "check_resources",
    "check_weights",
    "load_models",
    "load_pipeline",
    "new_session",
    "run_inputs",
]
