"""Which person a session follows: the most prominent one, kept stable across frames."""

from __future__ import annotations

from edgepose.pose import Pose

SWITCH_RATIO = 1.5  # another person must be this much larger ...
SWITCH_S = 1.0  # ... for this long before the session follows them
LOST_S = 1.0  # after this long without the followed person, take the largest again


def _area(p: Pose) -> float:
    _, _, w, h = p.box(0.3)
    return max(0.0, w) * max(0.0, h)


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


class PersonPicker:
    """Follows one person: by track id when the engine gives one, else by box overlap."""

    def __init__(self) -> None:
        self.id: int | None = None
        self.box: tuple[float, float, float, float] | None = None
        self.last_seen = -1e9
        self.challenger_since: float | None = None

    def pick(self, poses: list[Pose], t: float) -> Pose | None:
        if not poses:
            return None
        largest = max(poses, key=_area)
        cur = None
        if t - self.last_seen <= LOST_S:
            if self.id is not None:
                cur = next((p for p in poses if p.id == self.id), None)
            if cur is None and self.box is not None:
                best = max(poses, key=lambda p: _iou(p.box(0.3), self.box))  # type: ignore[arg-type]
                if _iou(best.box(0.3), self.box) > 0.3:
                    cur = best
        if cur is None:
            cur = largest
            self.challenger_since = None
        elif largest is not cur and _area(largest) > SWITCH_RATIO * _area(cur):
            if self.challenger_since is None:
                self.challenger_since = t
            elif t - self.challenger_since >= SWITCH_S:
                cur, self.challenger_since = largest, None
        else:
            self.challenger_since = None
        self.id, self.box, self.last_seen = cur.id, cur.box(0.3), t
        return cur
