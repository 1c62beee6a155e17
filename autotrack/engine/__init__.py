"""The streaming engine, apart from any model family: `EngineModel` (the loaded parts of one model) gives each video
or stream an `EngineSession` (per-object memory, motion scoring, object pointers). Families plug in through
`autotrack.engine.parts.ModelParts` and `autotrack.engine.family.Family`; see `autotrack.models`."""
