"""A live network camera that disappears and comes back: a real MJPEG-over-HTTP stream on
loopback (what many IP cameras serve), read by OpenCV, stopped mid-session and restarted."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
import pytest

from edgepose.capture.sources import LiveOpenCVSource, open_source
from edgepose.errors import SourceError


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MjpegServer:
    """Serves numbered grey frames as multipart/x-mixed-replace until stopped."""

    def __init__(self, port: int):
        self.port = port
        self.httpd: ThreadingHTTPServer | None = None
        self.sent = 0

    def start(self) -> MjpegServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    while outer.httpd is not None:
                        img = np.full((120, 160, 3), outer.sent % 250, np.uint8)
                        ok, jpg = cv2.imencode(".jpg", img)
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                         + str(len(jpg)).encode() + b"\r\n\r\n" + jpg.tobytes() + b"\r\n")
                        outer.sent += 1
                        time.sleep(1 / 30)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        h, self.httpd = self.httpd, None
        if h is not None:
            h.shutdown()
            h.server_close()


def _mjpeg_supported() -> bool:
    port = _free_port()
    srv = MjpegServer(port).start()
    try:
        cap = cv2.VideoCapture(f"http://127.0.0.1:{port}/stream.mjpg")
        ok = cap.isOpened() and cap.read()[0]
        cap.release()
        return bool(ok)
    finally:
        srv.stop()


def test_camera_gap_is_bridged_and_reported():
    if not _mjpeg_supported():
        pytest.skip("this OpenCV build cannot read an MJPEG HTTP stream (no FFmpeg backend)")
    port = _free_port()
    srv = MjpegServer(port).start()
    src = open_source(f"http://127.0.0.1:{port}/stream.mjpg")
    assert isinstance(src, LiveOpenCVSource) and src.live
    events: list[str] = []
    src.on_event = lambda kind, detail: events.append(kind)
    src.max_backoff_s = 0.5
    got = 0
    restarted = False
    servers = [srv]
    t_end = time.monotonic() + 30
    try:
        for _frame in src.frames():
            got += 1
            if got == 20 and not restarted:
                srv.stop()                     # the camera goes away
                threading.Timer(1.5, lambda: servers.append(MjpegServer(port).start())).start()  # and comes back
                restarted = True
            if got >= 60 or time.monotonic() > t_end:
                break
    finally:
        src.close()
        for s in servers:
            s.stop()
    assert got >= 60, f"only {got} frames: the stream did not come back"
    assert events[:2] == ["camera_lost", "camera_back"]
    assert len(src.gaps) == 1 and 0.5 < src.gaps[0][1] < 15


def test_missing_camera_is_a_clear_error():
    with pytest.raises(SourceError, match="could not be opened"):
        open_source(f"http://127.0.0.1:{_free_port()}/nothing.mjpg")


def test_a_clip_on_the_screen_plays_at_its_own_speed():
    """`run --display` on a file: frames no faster than the file's clock (25 fps: 30 frames take
    1.16 s of clip time); without the display they come as fast as they decode."""
    from tests.conftest import need_data

    clip = str(need_data("video", "dance_single_office.mp4"))

    def first_frames(realtime: bool) -> tuple[float, float]:
        src = open_source(clip)
        src.realtime = realtime
        t0 = time.monotonic()
        for f in src.frames():
            if f.seq == 29:
                break
        took = time.monotonic() - t0
        src.close()
        return took, f.t_media

    paced, clip_t = first_frames(True)
    fast, _ = first_frames(False)
    assert clip_t > 1.1
    assert paced >= clip_t - 0.02, (paced, clip_t)
    assert fast < paced
