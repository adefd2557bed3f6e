"""A real RTSP camera for tests (GStreamer's RTSP server), serving a clip at its own speed.

Run with Debian's Python, which has the GStreamer bindings (python3-gi,
gir1.2-gst-rtsp-server-1.0), not the project venv:
    /usr/bin/python3 tests/support/rtsp_server.py PORT /MOUNT CLIP.mp4
Each client gets the clip from its start (H.264 passed through, no re-encoding).
Prints "ready" once listening. Kill it to simulate a camera that drops off the network.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> None:
    port, mount, clip = sys.argv[1], sys.argv[2], sys.argv[3]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(f'( filesrc location="{clip}" ! qtdemux '
                       f"! rtph264pay name=pay0 pt=96 config-interval=1 )")
    server.get_mount_points().add_factory(mount, factory)
    if server.attach(None) == 0:
        raise SystemExit(f"cannot listen on port {port}")
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
