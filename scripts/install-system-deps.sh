#!/bin/sh
# System packages the test suite needs, all from Debian's own archive (works on an
# offline mirror too). Run as root once per machine.
#  - GStreamer RTSP server + plugins: tests/rtsp_server.py (run by Debian's /usr/bin/python3,
#    the only interpreter where `gi` imports) plays a real, killable RTSP camera.
#  - postgresql: the store and review page tests run on a real PostgreSQL server too (the tests
#    start their own on a loopback port; the packaged cluster need not run).
#  - chromium: the review page's browser tests (Playwright drives Debian's build; never
#    `playwright install`, which downloads).
#  - mosquitto: the MQTT broker the outputs tests start on a loopback port (never as a service).
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends \
    python3-gi \
    gir1.2-gst-rtsp-server-1.0 \
    gstreamer1.0-tools \
    gstreamer1.0-plugins-base \
    gstreamer1.0-plugins-good \
    gstreamer1.0-plugins-bad \
    gstreamer1.0-plugins-ugly \
    gstreamer1.0-libav \
    postgresql \
    chromium \
    mosquitto
