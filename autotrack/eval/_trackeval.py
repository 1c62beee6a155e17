"""Run TrackEval quietly and hand back its per-sequence results.

TrackEval prints progress and tracebacks and can write result files; here it only computes. Its own
errors come back as ValueError with TrackEval's one-line message.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import trackeval

from autotrack.errors import InputError

QUIET = {"PRINT_CONFIG": False}  # config for metrics that print their settings when built

# Compute only: no printing, no files written next to the data, no error log inside site-packages.
_QUIET_EVALUATOR = {
    "USE_PARALLEL": False,
    "PRINT_RESULTS": False,
    "PRINT_CONFIG": False,
    "TIME_PROGRESS": False,
    "OUTPUT_SUMMARY": False,
    "OUTPUT_DETAILED": False,
    "PLOT_CURVES": False,
    "LOG_ON_ERROR": None,
    "BREAK_ON_ERROR": True,
}


def run_trackeval(dataset_class: type, dataset_config: dict, metrics: list) -> dict[str, dict]:
    """Evaluate the single tracker named in `dataset_config` and return TrackEval's results by sequence.

    The result maps each sequence name, and "COMBINED_SEQ", to `{metric name: {field: value}}` for the
    dataset's single class.
    """
    config = {**QUIET, **dataset_config}
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # numpy 2 notices from pycocotools, once per mask
        try:
            dataset = dataset_class(config)
            results, _ = trackeval.Evaluator(_QUIET_EVALUATOR).evaluate([dataset], metrics)
        except trackeval.utils.TrackEvalException as err:
            raise InputError(f"TrackEval: {err}") from None
    (tracker_results,) = results[dataset.get_name()].values()
    (class_name,) = dataset.class_list
    return {seq: by_class[class_name] for seq, by_class in tracker_results.items()}
