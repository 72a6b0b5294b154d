"""Video files served as live RTSP cameras, for the capacity benchmark.

Run by Debian's own Python (the only interpreter where GStreamer's ``gi`` imports):
``/usr/bin/python3 scripts/rtsp_files.py --port P cam1=a.mp4 cam2=b.mp4 ...`` serves each file at
``rtsp://127.0.0.1:P/cam1`` at its own frame rate, as a camera would. The H.264 of the file is sent
as it is (no decode, no encode: the server must cost the box next to nothing, since the benchmark
measures the monitor on the same machine). Each client gets its own playback from the start of the
file. Prints "READY rtsp://127.0.0.1:PORT/" once it listens.
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
    ap.add_argument("mounts", nargs="+", help="NAME=FILE.mp4 (H.264 in MP4)")
    args = ap.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    points = server.get_mount_points()
    for mount in args.mounts:
        name, _, path = mount.partition("=")
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(
            f'( filesrc location="{path}" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )'
        )
        # Not shared: a file can be sought, and a client joining a shared playback asks for it from
        # the start, which rewinds it under the client already watching (a real camera is live and
        # cannot be rewound). So each client gets its own playback from the start of the file.
        factory.set_shared(False)
        points.add_factory(f"/{name}", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
        return 2
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print(f"READY rtsp://127.0.0.1:{server.get_bound_port()}/", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
