"""MoveNet crop geometry and decoding as pure functions (the real models: test_movenet_real.py)."""

from __future__ import annotations

import numpy as np

from edgepose.inference.movenet import Crop, crop_image, decode, full_crop, next_crop


def test_full_crop_is_a_centred_square():
    c = full_crop(640, 480)
    assert c.x0 == 0 and c.w == 1 and c.h * 480 == 640 and c.y0 * 480 == -80


def test_decode_inverts_crop_image():
    """A point at crop-normalised (y, x) maps back to the image pixel the crop took it from."""
    img = np.zeros((300, 400, 3), np.uint8)
    img[120, 250] = 255
    crop = Crop(0.2, 0.4, 0.6, 0.45)  # 180 x 180 px square starting at (160, 60)
    out = crop_image(img, crop, 180)
    yy, xx = np.unravel_index(out[:, :, 0].argmax(), out.shape[:2])
    k = np.zeros((1, 1, 17, 3))
    k[0, 0, 0] = [yy / 180, xx / 180, 0.9]
    px = decode(k, crop, 400, 300)[0]
    assert abs(px[0] - 250) <= 1.5 and abs(px[1] - 120) <= 1.5 and px[2] == np.float32(0.9)


def test_next_crop_centres_on_the_hips_and_covers_the_body():
    kp = np.zeros((17, 3), np.float32)
    kp[:, 2] = 0.9
    kp[:, 0] = 300
    kp[:, 1] = np.linspace(100, 400, 17)  # a standing person 300 px tall
    kp[11:13, 1] = 260  # hips
    kp[5:7, 1] = 160    # shoulders
    c = next_crop(kp, 640, 480)
    cx, cy = (c.x0 + c.w / 2) * 640, (c.y0 + c.h / 2) * 480
    assert abs(cx - 300) < 1 and abs(cy - 260) < 1
    assert c.y0 * 480 <= 100 and (c.y0 + c.h) * 480 >= 400


def test_next_crop_falls_back_to_the_frame_without_a_torso():
    kp = np.zeros((17, 3), np.float32)
    assert next_crop(kp, 640, 480) == full_crop(640, 480)
