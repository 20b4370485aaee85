"""Pose inference: LiteRT runtime, BlazePose (detector + landmark) and MoveNet decoders."""
