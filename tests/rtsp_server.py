"""A small RTSP server for the live-source tests, built on GStreamer's RTSP server.

Run it with Debian's /usr/bin/python3 (the interpreter that has the GStreamer bindings, `python3-gi`):

    /usr/bin/python3 tests/rtsp_server.py --port 8554

It serves rtsp://127.0.0.1:PORT/test as MJPEG over RTP. Every frame is gray with 16 black/white stripes that spell
a frame counter in binary (most significant bit on the left), so a test can check that no frame was skipped. Each
client gets its own stream whose counter starts at 0. The script prints "ready" once it is listening.
Only the standard library and GStreamer are used: this interpreter may have no numpy.
"""

import argparse

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

BITS = 16


def counter_frame(counter: int, width: int, height: int) -> bytes:
    """A GRAY8 frame whose stripes spell `counter` in binary."""
    stripe = width // BITS
    row = b"".join((b"\xff" if (counter >> (BITS - 1 - bit)) & 1 else b"\x00") * stripe for bit in range(BITS))
    return (row + b"\x80" * (width - len(row))) * height


class CounterFactory(GstRtspServer.RTSPMediaFactory):
    """Builds one pipeline per client: appsrc (counter frames, pushed at `fps` by a timer) -> JPEG -> RTP."""

    def __init__(self, width: int, height: int, fps: int):
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        caps = f"video/x-raw,format=GRAY8,width={width},height={height},framerate={fps}/1"
        self.set_launch(
            f"( appsrc name=src is-live=true do-timestamp=true format=time caps={caps} "
            "! videoconvert ! video/x-raw,format=I420 ! jpegenc quality=85 ! rtpjpegpay name=pay0 pt=26 )"
        )
        self.connect("media-configure", self._on_media_configure)

    def _on_media_configure(self, factory, media) -> None:
        appsrc = media.get_element().get_by_name("src")
        state = {"counter": 0}

        def push() -> bool:
            buffer = Gst.Buffer.new_wrapped(counter_frame(state["counter"], self.width, self.height))
            state["counter"] += 1
            # keep the timer only while the pipeline accepts data (it stops when the client leaves)
            return appsrc.emit("push-buffer", buffer) == Gst.FlowReturn.OK

        GLib.timeout_add(max(1, round(1000 / self.fps)), push)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--fps", type=int, default=25)
    args = parser.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    server.get_mount_points().add_factory("/test", CounterFactory(args.width, args.height, args.fps))
    if server.attach(None) == 0:
        raise SystemExit(f"cannot listen on port {args.port}")
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
