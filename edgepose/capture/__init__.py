"""Frame sources: OpenCV (file, USB, RTSP, GStreamer) and picamera2, behind one protocol."""

from edgepose.capture.frame import Frame

__all__ = ["Frame"]
