"""`autotrack serve`: a browser console for live cameras and videos.

Each source reads in its own thread and has its own session (`SourceWorker`) on models shared by every source on
the same set (`ModelSets`); compute threads, one per core, run the sources' frames in turn (`Scheduler`). The web app
(`create_app`, FastAPI)
serves a landing page with every source's live thumbnail, a page per source (live annotated frames, the object
list, click-to-prompt, the event log, controls and downloads; plain HTML/JS in `static/`), and the HTTP/WebSocket
API behind them, described at /openapi.json. Needs the `serve` extra: `pip install "autotrack[serve]"`.

    console = Console(RunOptions(pipeline="manual-sam2", output_dir=Path("out")))
    app = create_app(console, sources=["rtsp://camera/stream"])   # then run it with uvicorn
"""

from autotrack.serve.app import create_app
from autotrack.serve.console import Console
from autotrack.serve.security import check_host
from autotrack.serve.source import ConsoleSource
from autotrack.serve.worker import RunOptions, SourceWorker

__all__ = ["Console", "ConsoleSource", "RunOptions", "SourceWorker", "check_host", "create_app"]
