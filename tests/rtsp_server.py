"""A real RTSP camera for the live-source tests: ``/usr/bin/python3 tests/rtsp_server.py --port P``.

Run by Debian's own Python, the only interpreter where GStreamer's ``gi`` bindings import (they are
not installable into the project's venv). It serves an endless H.264 stream at
``rtsp://127.0.0.1:P/cam1`` (no authentication: any user:password in the URL is accepted), so the
tests can kill it (SIGKILL), freeze it (SIGSTOP/SIGCONT) and restart it on the same port like a real
camera dropping out. The live test pattern keeps it small and needs no file. With ``NAME=FILE.mp4``
arguments it serves those files' own H.264 at ``/NAME`` instead (the end-to-end live test and the
capacity benchmark, ``scripts/bench_capacity.py``).

Prints "READY <url>" on stdout once it listens.
"""

from __future__ import annotations

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    ap.add_argument("--path", default="/cam1")
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--height", type=int, default=240)
    ap.add_argument("--fps", type=int, default=10)
    ap.add_argument("--pattern", default="ball", help="videotestsrc pattern (moving ball by default)")
    ap.add_argument("--bitrate", type=int, default=300, help="kbit/s (pattern=snow fills a real camera's 2-4 Mbit/s)")
    ap.add_argument(
        "files", nargs="*", metavar="NAME=FILE.mp4",
        help="serve these H.264 MP4 files at /NAME instead of the test pattern (the capacity benchmark)",
    )  # fmt: skip
    args = ap.parse_args()

    Gst.init(None)
    launch = (
        f"( videotestsrc is-live=true pattern={args.pattern} "
        f"! video/x-raw,width={args.width},height={args.height},framerate={args.fps}/1 "
        "! videoconvert ! video/x-raw,format=I420 "
        # zerolatency: no B-frames/lookahead, so a client gets pictures at once; a key frame every
        # second so a reconnecting client decodes within a second.
        f"! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={args.fps} bitrate={args.bitrate} "
        "! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    if not args.files:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch)
        factory.set_shared(True)
        mounts.add_factory(args.path, factory)
    for item in args.files:
        # A file's own H.264, sent as it is (no decode, no encode: the server must cost next to
        # nothing beside the monitor it feeds), at the file's frame rate. Not shared: a file can be
        # sought, and a second client asking from the start would rewind the playback under the
        # first (a camera is live and cannot be). Each client plays the file from its start.
        name, _, path = item.partition("=")
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(
            f'( filesrc location="{path}" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )'
        )
        factory.set_shared(False)
        mounts.add_factory(f"/{name}", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
        return 2
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    where = "/" if args.files else args.path
    print(f"READY rtsp://127.0.0.1:{server.get_bound_port()}{where}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
