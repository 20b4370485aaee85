"""The live window: the overlay on a desktop (X11 or Wayland) or on a device's screen with no desktop.

One toolkit does both: pygame-ce, whose wheel carries SDL2. On a desktop SDL opens an ordinary
window; on a Raspberry Pi or Jetson with an HDMI/DSI screen and no desktop, SDL's KMS/DRM back end
draws straight to ``/dev/dri/card*`` (the user needs the ``video`` and ``render`` groups).

Threads: SDL wants its window on the thread that created it, so :class:`LiveWindow` is opened,
pumped and closed on the main thread. Any thread may hand it a frame with :meth:`LiveWindow.show`
(latest frame wins); :meth:`LiveWindow.pump` (main thread) draws the newest frame and turns keys
and the close button into actions:

=================  ==========  =========================================
key                action      what it does (mirrors the device button)
=================  ==========  =========================================
space              ``toggle``  start / stop (pause) the session
n                  ``next``    the next program
q, Esc, close box  ``quit``    end the session (its summary is written)
=================  ==========  =========================================
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from edgepose.errors import WindowError

log = logging.getLogger(__name__)

ACTIONS = ("toggle", "next", "quit")


def drm_cards(dri: str | os.PathLike[str] = "/dev/dri") -> list[Path]:
    """The DRM devices (``/dev/dri/card0`` ...) present, sorted."""
    d = Path(dri)
    try:
        return sorted(p for p in d.iterdir() if p.name.startswith("card"))
    except OSError:
        return []


def detect_window(environ: Mapping[str, str] | None = None,
                  dri: str | os.PathLike[str] = "/dev/dri") -> tuple[str | None, str]:
    """``(sdl_driver | None, reason)``: the SDL video driver this process can show a window with.

    ``"wayland"`` or ``"x11"`` when a desktop session exists, ``"kmsdrm"`` when a DRM device
    (an HDMI/DSI screen without a desktop) is readable and writable, else ``None`` and why not.
    """
    env = os.environ if environ is None else environ
    if env.get("WAYLAND_DISPLAY"):
        return "wayland", f"Wayland desktop {env['WAYLAND_DISPLAY']}"
    if env.get("DISPLAY"):
        return "x11", f"X11 desktop {env['DISPLAY']}"
    cards = drm_cards(dri)
    if not cards:
        return None, (f"no desktop session ($DISPLAY and $WAYLAND_DISPLAY unset) and no screen at {dri}/card* "
                      "(no HDMI/DSI screen attached, or its KMS driver is not loaded)")
    usable = [c for c in cards if os.access(c, os.R_OK | os.W_OK)]
    if not usable:
        return None, (f"{cards[0]} is not readable and writable by this user; add the user to the 'video' and "
                      "'render' groups (sudo usermod -aG video,render $USER) and log in again")
    return "kmsdrm", f"screen {usable[0]} (KMS/DRM, no desktop)"


def _import_pygame() -> Any:
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        import pygame
    except ImportError as e:
        raise WindowError("pygame-ce is not installed (it carries SDL2 for the live window); "
                          "pip install pygame-ce, or set display.kind = \"none\"") from e
    return pygame


class LiveWindow:
    """A window (or the whole device screen) showing the newest frame.

    Parameters
    ----------
    driver:
        The SDL video driver (:func:`detect_window`); ``None`` detects it.
    title:
        The window title.
    fullscreen:
        ``None``: full screen on a device screen (KMS/DRM), a resizable window on a desktop.
    size:
        The first window size on a desktop (``None``: the first frame's size, grown to at least
        720 pixels high when the desktop has room).
    """

    name = "window"

    def __init__(self, driver: str | None = None, title: str = "edgepose", fullscreen: bool | None = None,
                 size: tuple[int, int] | None = None) -> None:
        if threading.current_thread() is not threading.main_thread():
            raise WindowError("the live window must be opened on the main thread (SDL's rule)")
        if driver is None:
            driver, why = detect_window()
            if driver is None:
                raise WindowError(f"no screen for the live window: {why}")
        self.driver = driver
        self.title = title
        self.fullscreen = (driver == "kmsdrm") if fullscreen is None else fullscreen
        self._size = size
        pg = _import_pygame()
        self._pg = pg
        os.environ["SDL_VIDEODRIVER"] = "wayland,x11" if driver == "wayland" else driver
        try:
            pg.display.init()
        except pg.error as e:
            hint = ("install the KMS/DRM libraries (libgbm1 libdrm2 libegl1 libgles2) and add the user to the "
                    "'video' and 'render' groups" if driver == "kmsdrm" else "check $DISPLAY / $WAYLAND_DISPLAY")
            raise WindowError(f"SDL cannot open the {driver} screen: {e}; {hint}") from e
        self._surface: Any = None
        self._lock = threading.Lock()
        self._latest: np.ndarray | None = None
        self._new = False
        self._closed = False
        self.frames_drawn = 0
        self.t_first_frame: float | None = None
        if self.fullscreen or size is not None:
            self._open(size or (0, 0))
        log.info("live window on %s (%s)", pg.display.get_driver(), "full screen" if self.fullscreen else "window")

    # ------------------------------------------------------------------ any thread
    def show(self, image: np.ndarray | None, hud: Any = None) -> None:
        """Hand over a BGR frame to draw at the next :meth:`pump` (any thread; latest wins)."""
        if image is None:
            return
        with self._lock:
            self._latest = image
            self._new = True

    # ------------------------------------------------------------------ main thread
    def _open(self, size: tuple[int, int]) -> None:
        pg = self._pg
        if self.fullscreen:
            self._surface = pg.display.set_mode((0, 0), pg.FULLSCREEN)
        else:
            self._surface = pg.display.set_mode(size, pg.RESIZABLE)
        pg.display.set_caption(self.title)
        pg.mouse.set_visible(not self.fullscreen)

    def _first_size(self, frame_wh: tuple[int, int]) -> tuple[int, int]:
        w, h = frame_wh
        try:
            dw, dh = self._pg.display.get_desktop_sizes()[0]
        except (IndexError, self._pg.error):
            dw, dh = 1280, 720
        s = min(max(1.0, 720 / h), 0.9 * dw / w, 0.9 * dh / h)
        return max(160, round(w * s)), max(120, round(h * s))

    def pump(self) -> list[str]:
        """Handle window events and draw the newest frame; returns the actions asked for."""
        pg = self._pg
        if self._closed:
            return []
        actions: list[str] = []
        with self._lock:
            img, new = self._latest, self._new
            self._new = False
        if self._surface is None and img is not None:
            self._open(self._first_size((img.shape[1], img.shape[0])))
        if self._surface is not None:
            for ev in pg.event.get():
                if ev.type == pg.QUIT:
                    actions.append("quit")
                elif ev.type == pg.KEYDOWN:
                    if ev.key in (pg.K_q, pg.K_ESCAPE):
                        actions.append("quit")
                    elif ev.key == pg.K_SPACE:
                        actions.append("toggle")
                    elif ev.key == pg.K_n:
                        actions.append("next")
                elif ev.type in (pg.VIDEORESIZE, pg.WINDOWEXPOSED, pg.WINDOWSIZECHANGED):
                    new = new or img is not None
            if new and img is not None:
                self._draw(img)
        return actions

    def _draw(self, img: np.ndarray) -> None:
        pg = self._pg
        surf = pg.display.get_surface() or self._surface
        sw, sh = surf.get_size()
        if sw <= 0 or sh <= 0:
            return
        fitted = img if (img.shape[1], img.shape[0]) == (sw, sh) else letterbox(img, sw, sh)
        rgb = np.ascontiguousarray(fitted[..., ::-1])
        frame = pg.image.frombuffer(rgb.tobytes(), (sw, sh), "RGB")
        surf.blit(frame, (0, 0))
        pg.display.flip()
        self.frames_drawn += 1
        if self.t_first_frame is None:
            self.t_first_frame = time.monotonic()
            log.info("live window: first frame drawn (%dx%d)", sw, sh)

    def close(self) -> None:
        """Close the window (idempotent; main thread)."""
        if self._closed:
            return
        self._closed = True
        try:
            self._pg.display.quit()
        except Exception:  # noqa: BLE001 - closing must not raise
            log.debug("closing the window failed", exc_info=True)

    def __enter__(self) -> LiveWindow:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def letterbox(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` fitted into ``width x height``, aspect kept, black borders."""
    import cv2

    h, w = image.shape[:2]
    s = min(width / w, height / h)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    out = np.zeros((height, width, 3), np.uint8)
    x0, y0 = (width - nw) // 2, (height - nh) // 2
    out[y0:y0 + nh, x0:x0 + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    return out


def open_screen(cfg: Any, environ: Mapping[str, str] | None = None, strict: bool = False) -> Any:
    """The display ``[display]`` asks for, the live window first.

    ``kind = "auto"`` (the default) and ``"hdmi"``: the live window when a desktop or a KMS/DRM
    screen exists (said once, in the log); otherwise ``"hdmi"`` falls back to the framebuffer and
    ``"auto"`` runs headless, saying why. ``"ssd1306"`` and ``"none"`` are
    :func:`edgepose.feedback.display.open_display`'s. ``strict`` (``edgepose run --display``)
    raises :class:`edgepose.feedback.display.DisplayError` instead of running headless.
    """
    from edgepose.feedback.display import open_display

    if cfg.kind in ("auto", "hdmi"):
        driver, why = detect_window(environ)
        if driver is not None:
            try:
                win = LiveWindow(driver)
                log.warning("display: the live window (%s)", why)
                return win
            except WindowError as e:
                why = str(e)
        log.info("no live window: %s", why)
    return open_display(cfg, environ, strict=strict)


def run_loop(window: LiveWindow, running: Any, on_action: Any, fps: float = 60.0) -> None:
    """Pump ``window`` on this (main) thread while ``running()`` is true, passing actions on.

    ``on_action(action)`` gets ``"toggle"``, ``"next"`` or ``"quit"``. Returns when
    ``running()`` turns false (source ended, stopped by a signal, or a quit action acted on).
    Sleeps in short steps, so a signal handler runs within a frame.
    """
    period = 1.0 / fps
    while running():
        t0 = time.monotonic()
        for a in window.pump():
            on_action(a)
        rest = period - (time.monotonic() - t0)
        if rest > 0:
            time.sleep(rest)
