"""A live session: one program, a stream of poses in, feedback per frame and a summary out.

Pure: no I/O, no clock of its own (the caller passes each frame's time). The pipeline calls
:meth:`Session.update` for every frame (``poses`` may be empty) and :meth:`Session.summary` at
the end. The score formulas are in ``docs/scoring.md``.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from edgepose.evaluate.angles import (
    ANGLE_MEASURES,
    NEEDS,
    SIDED,
    VERTEX,
    Measure,
    canonical,
    combine_sides,
    measure_pose,
    torso_length,
)
from edgepose.evaluate.cues import CueGate
from edgepose.evaluate.feedback import Feedback, JointStatus, Phase
from edgepose.evaluate.match import MatchResult, judge, match_program
from edgepose.evaluate.person import PersonPicker
from edgepose.evaluate.reps import RepCounter, Smoother
from edgepose.evaluate.sides import sided
from edgepose.evaluate.viewcheck import PlaneCheck
from edgepose.pose import Pose
from edgepose.programs import Check, Program

MIN_CONF = 0.5  # a measure is judged live only when seen at least this well
GOOD, NEAR = 0.8, 0.5  # match score thresholds of the "good" and "near" levels
HOLD_ENTER, HOLD_LEAVE = 0.8, 0.65  # a hold starts at GOOD and survives small wobbles
UNSEEN_CUE_S = 1.0
HIP_BELOW_S = 1.0  # time constant of the hips' average drop below the shoulders
CUE_STEP_BACK = "Step back so I can see your whole body"
CUE_TURN_SIDE = "Turn sideways to the camera"
CUE_TURN_FRONT = "Turn to face the camera"


def _view(ms: dict[str, Measure], pose: Pose) -> str:
    """"front" when the shoulders are wide in the image relative to the torso, else "side"."""
    tl = torso_length(pose)
    if tl <= 0:
        return "side"
    w = float(np.hypot(*(pose.xy("left_shoulder") - pose.xy("right_shoulder"))))
    return "front" if w / tl > 0.45 else "side"


def _inside_only(pose: Pose, frame_size: tuple[int, int]) -> Pose:
    """The pose with keypoints outside the image marked unseen (a guess, not an observation)."""
    w, h = frame_size
    k = pose.keypoints
    out = (k[:, 0] < 0) | (k[:, 1] < 0) | (k[:, 0] >= w) | (k[:, 1] >= h)
    if not out.any():
        return pose
    k2 = k.copy()
    k2[out, 2] = 0.0
    return Pose(k2, pose.score, pose.layout, pose.id, pose.z)


def _out_of_frame(pose: Pose, names: tuple[str, ...], frame_size: tuple[int, int]) -> bool:
    w, h = frame_size
    for n in names:
        if n not in pose.names:
            continue
        x, y = pose.xy(n)
        if x < 0 or y < 0 or x >= w or y >= h:
            return True
    return False


class Session:
    """Feedback and metrics for one program over one stream of poses."""

    def __init__(self, program: Program) -> None:
        self.prog = program
        self.picker = PersonPicker()
        self.cues = CueGate()
        self.t0: float | None = None
        self.t_last: float | None = None
        self.tracked_s = 0.0
        self.frames = 0
        self.frames_with_person = 0
        self.unseen_since: float | None = None
        # target-pose state
        self.match_sum = 0.0
        self.match_n = 0
        self.holding = False
        self.hold_mirrored = False
        self.hold_start = 0.0
        self.hold_s = 0.0
        self.best_hold_s = 0.0
        self.on_target_s = 0.0
        self.holds: list[dict] = []
        self.best_match: MatchResult | None = None
        # reps
        spec = program.reps
        self.counter: RepCounter | None = None
        if spec is not None:
            gap = 120.0 if program.clinical and program.clinical.test == "timed-up-and-go" else 2.0
            self.counter = RepCounter(spec.direction, spec.min_amplitude, spec.hysteresis, spec.smooth_s,
                                      spec.window_s, gap_reset_s=gap, min_period_s=spec.min_rep_s,
                                      detrend_s=spec.detrend_s, rest_range=spec.rest_range)
        self.fb_counter: RepCounter | None = None
        if spec is not None and spec.fallback:
            self.fb_counter = RepCounter(spec.direction, spec.min_amplitude, spec.hysteresis, spec.smooth_s,
                                         spec.window_s, min_period_s=spec.min_rep_s, detrend_s=spec.detrend_s)
        self._main_seen: deque[tuple[float, bool]] = deque()
        self._torso_smoother = Smoother(0.2)
        self._torso_now = 0.0
        self._torso_slow = 0.0
        self._shoulder_y: float | None = None  # mid-shoulder image height / torso (when seen)
        self._hip_below: float | None = None  # mid-hip below mid-shoulder / torso, averaged while seen
        self._hip_below_t = 0.0
        self.fault_frames: dict[str, int] = {}
        self._fault_since: dict[str, float] = {}
        self.plane = PlaneCheck(spec.rom if spec is not None else (), MIN_CONF)
        self.rep_frames = 0
        self.done = False
        self.clinical_count_extra = 0

    # ------------------------------------------------------------ per frame
    def update(self, poses: list[Pose], t: float, frame_size: tuple[int, int]) -> Feedback:
        """Feed one frame; returns the feedback to show for it."""
        if self.t0 is None:
            self.t0 = t
        dt = 0.0 if self.t_last is None else max(0.0, min(1.0, t - self.t_last))
        self.t_last = t
        self.frames += 1
        pose = self.picker.pick(poses, t)
        if pose is None:
            self._end_hold(t)
            if self.counter is not None:
                self.counter.update(t, None)
            cue, new = self.cues.update(t, [])
            return Feedback(Phase.WAITING, cue, {}, "none", self.reps, self.live_score(), 0.0, {}, new)
        self.frames_with_person += 1
        self.tracked_s += dt
        pose = _inside_only(pose, frame_size)
        ms = measure_pose(pose)
        self._torso_now = torso_length(pose)
        self._track_torso(pose, t)
        angles = {k: round(m.value, 1) for k, m in ms.items() if k in ANGLE_MEASURES and m.conf >= MIN_CONF}
        if self.prog.kind == "pose" or (self.prog.clinical and self.prog.clinical.test == "single-leg-stance"):
            fb = self._update_pose(pose, ms, t, dt, frame_size)
        else:
            fb = self._update_reps(pose, ms, t, frame_size)
        fb.angles = angles
        fb.person_box = pose.box(0.3)
        return fb

    def _unseen_cue(self, pose: Pose, ms: dict[str, Measure], t: float, unseen: bool, needs: tuple[str, ...],
                    frame_size: tuple[int, int]) -> str | None:
        if not unseen:
            self.unseen_since = None
            return None
        if self.unseen_since is None:
            self.unseen_since = t
        if t - self.unseen_since < UNSEEN_CUE_S:
            return None
        if _out_of_frame(pose, needs, frame_size):
            return CUE_STEP_BACK
        view = _view(ms, pose)
        if self.prog.view == "side" and view == "front":
            return CUE_TURN_SIDE
        if self.prog.view == "front" and view == "side":
            return CUE_TURN_FRONT
        return CUE_STEP_BACK

    # ------------------------------------------------------------ target poses / holds
    def _update_pose(self, pose: Pose, ms: dict[str, Measure], t: float, dt: float,
                     frame_size: tuple[int, int]) -> Feedback:
        res = match_program(self.prog, ms, MIN_CONF)
        self.match_sum += res.score
        self.match_n += 1
        if self.best_match is None or res.score > self.best_match.score:
            self.best_match = res
        joints: dict[str, JointStatus] = {}
        rank = {"unseen": 0, "on": 1, "near": 2, "off": 3}
        for c in res.checks:
            j = VERTEX.get(c.measure)
            if j and rank[c.state] > rank.get(joints.get(j, "unseen"), 0) or (j and j not in joints):
                joints[j] = JointStatus(c.state)
        unseen = res.seen_share < 0.75
        needs = tuple(sorted({n for c in res.checks for n in NEEDS.get(c.measure, ())}))
        wanted = []
        u = self._unseen_cue(pose, ms, t, unseen, needs, frame_size)
        if u:
            wanted.append(u)
        # the worst deviation first: it is what most needs fixing
        for c in sorted(res.checks, key=lambda c: -c.excess * c.check.weight):
            if c.state in ("off", "near") and c.cue and sided(c.cue, res.mirrored) not in wanted:
                wanted.append(sided(c.cue, res.mirrored))
        score = res.score
        if not self.holding and score >= HOLD_ENTER and not unseen:
            self.holding, self.hold_start, self.hold_mirrored = True, t, res.mirrored
        elif self.holding and (score < HOLD_LEAVE or unseen):
            self._end_hold(t)
        if self.holding:
            self.on_target_s += dt
            self.hold_s = t - self.hold_start
            self.best_hold_s = max(self.best_hold_s, self.hold_s)
            cap = self.prog.clinical.max_hold_s if self.prog.clinical else None
            if cap and self.hold_s >= cap:
                self._end_hold(t)
                self.done = True
        level = "good" if score >= GOOD else ("near" if score >= NEAR else "fix")
        if unseen:
            level = "none"
        cue, new = self.cues.update(t, wanted if not self.holding or score < GOOD else [])
        phase = Phase.HOLDING if self.holding else Phase.TRACKING
        if self.done:
            phase = Phase.DONE
        return Feedback(phase, cue, joints, level, 0, self.live_score(), round(self.hold_s if self.holding else 0.0, 2),
                        {}, new)

    def _end_hold(self, t: float) -> None:
        if self.holding:
            side = "mirrored" if self.hold_mirrored else "as-written"
            self.holds.append({"t_start": round(self.hold_start - (self.t0 or 0), 2), "hold_s": round(t - self.hold_start, 2),
                               "side": side})
        self.holding = False
        self.hold_s = 0.0

    # ------------------------------------------------------------ reps
    def _track_torso(self, pose: Pose, t: float) -> None:
        """The body scale and where the hips sit under the shoulders, from frames that show them.

        The torso length is smoothed only over frames whose shoulders and hips are seen (a
        keypoint outside the image is a guess); the mid-hip's drop below the mid-shoulder is
        averaged over the same frames, so that hip_y can be carried by the shoulders when the
        hips leave the frame (:meth:`_signal`).
        """
        names = pose.names
        vis = {n: pose.visibility(n) if n in names else 0.0
               for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")}
        sh_seen = max(vis["left_shoulder"], vis["right_shoulder"]) >= MIN_CONF
        hip_seen = max(vis["left_hip"], vis["right_hip"]) >= MIN_CONF
        if self._torso_now > 0 and sh_seen and hip_seen:
            self._torso_slow = self._torso_smoother(t, self._torso_now)
        self._shoulder_y = None
        if not sh_seen or not self._torso_slow:
            return
        ms_y = float((pose.xy("left_shoulder")[1] + pose.xy("right_shoulder")[1]) / 2)
        self._shoulder_y = ms_y / self._torso_slow
        if hip_seen:
            below = float((pose.xy("left_hip")[1] + pose.xy("right_hip")[1]) / 2 - ms_y) / self._torso_slow
            a = 1.0 if self._hip_below is None else 1.0 - math.exp(-max(0.0, t - self._hip_below_t) / HIP_BELOW_S)
            self._hip_below = below if self._hip_below is None else self._hip_below + a * (below - self._hip_below)
            self._hip_below_t = t

    def _signal(self, ms: dict[str, Measure], name: str | None = None) -> float | None:
        spec = self.prog.reps
        assert spec is not None
        name = name or spec.signal
        if name in SIDED:
            m = combine_sides(ms, name, spec.combine, MIN_CONF)
        else:
            m = ms.get(canonical(name))
            if m is not None and m.conf < MIN_CONF:
                m = None
        if m is None and name == "hip_y" and self._shoulder_y is not None and self._hip_below is not None:
            # the hips left the frame (a walking lunge towards the camera) but the shoulders did
            # not: the hips are where they were last seen under the shoulders
            return -(self._shoulder_y + self._hip_below)
        if m is None:
            return None
        if name == "hip_y" and self._torso_now > 0 and self._torso_slow:
            # an image position over the torso length: divide by a slowly smoothed torso, so the
            # torso's frame-to-frame jitter (times the position/torso ratio) does not become noise
            return m.value * self._torso_now / self._torso_slow
        return m.value

    def _rom_values(self, ms: dict[str, Measure]) -> dict[str, float]:
        spec = self.prog.reps
        assert spec is not None
        out = {}
        for name in spec.rom:
            m = combine_sides(ms, name, "visible", MIN_CONF) if name in SIDED else ms.get(canonical(name))
            if m is not None and m.conf >= MIN_CONF:
                out[name] = m.value
        return out

    def _form(self, ms: dict[str, Measure], pose: Pose) -> tuple[list[tuple[Check, object]], str]:
        view = _view(ms, pose)
        out = []
        assert self.counter is not None
        for c in self.prog.form:
            if c.view != "any" and c.view != view:
                continue
            if c.phase == "far" and self.counter.phase != "going":
                continue
            r = judge(c, ms.get(c.measure), c.measure, MIN_CONF)
            out.append((c, r))
        return out, view

    def _update_reps(self, pose: Pose, ms: dict[str, Measure], t: float, frame_size: tuple[int, int]) -> Feedback:
        spec, counter = self.prog.reps, self.counter
        assert spec is not None and counter is not None
        x = self._signal(ms)
        form, _view_now = self._form(ms, pose)
        self.plane.update(pose)
        seen_now = {c.measure + (":low" if r.value is not None and r.value < c.lo else ":high")
                    for c, r in form if r.state == "off"}
        faults = self._sustained_faults(seen_now, t)
        for f in faults:
            self.fault_frames[f] = self.fault_frames.get(f, 0) + 1
        self.rep_frames += 1
        clin = self.prog.clinical
        timed_out = False
        if clin is not None and clin.test == "chair-stand-30s" and self.t0 is not None:
            timed_out = t - self.t0 > clin.duration_s
        wanted: list[str] = []
        ev = None
        if not timed_out and not self.done:
            ev = counter.update(t, x, self._rom_values(ms), faults)
        elif not self.done:
            self._finish_chair_stand()
        if ev is not None and ev.kind == "rep" and ev.rep is not None:
            self._judge_rep(ev.rep)
        if self.fb_counter is not None and not timed_out and not self.done:
            self._update_fallback(ms, t, x is None)
        if ev is not None and ev.kind == "partial" and spec.cue_incomplete:
            wanted.append(spec.cue_incomplete)
        if clin is not None and clin.test == "timed-up-and-go" and counter.reps and counter.reps[0].t_end is not None:
            self.done = True
        needs = NEEDS.get(canonical(spec.signal), ()) if spec.signal not in SIDED else tuple(
            n for s in ("left", "right") for n in NEEDS.get(f"{s}_{spec.signal}", ()))
        u = self._unseen_cue(pose, ms, t, x is None, needs, frame_size)
        if u:
            wanted.insert(0, u)
        joints: dict[str, JointStatus] = {}
        for name in spec.rom:  # the joints being measured show as on target unless a check says otherwise
            for side in ("left", "right"):
                m = ms.get(f"{side}_{name}") if name in SIDED else None
                j = VERTEX.get(f"{side}_{name}")
                if m is not None and j and m.conf >= MIN_CONF:
                    joints[j] = JointStatus.ON
        for c, r in form:
            j = VERTEX.get(c.measure)
            if j:
                joints[j] = JointStatus(r.state)
                if r.state in ("off", "near") and r.cue and r.cue not in wanted and r.state == "off":
                    wanted.append(r.cue)
        if self.counter.reps:
            last = self.counter.reps[-1]
            if "incomplete" in last.faults and spec.cue_incomplete and t - last.t_counted < 2.0 \
                    and spec.cue_incomplete not in wanted:
                wanted.append(spec.cue_incomplete)
            if "fast" in last.faults and spec.cue_fast and t - last.t_counted < 2.0 and spec.cue_fast not in wanted:
                wanted.append(spec.cue_fast)
            if t - last.t_counted < 2.0:  # a rep that cost form points says why, even if another cue had the floor
                for cue in self._fault_cues(last.faults):
                    if cue not in wanted:
                        wanted.append(cue)
        if x is None:
            for n in needs:
                if n in pose.names and pose.visibility(n) < MIN_CONF:
                    joints[n] = JointStatus.UNSEEN
        cue, new = self.cues.update(t, wanted)
        states = [r.state for _, r in form]
        if x is None:
            level = "none"
        elif "off" in states:
            level = "fix"
        elif "near" in states:
            level = "near"
        else:
            level = "good"
        ph = counter.phase
        going = Phase.REP_DOWN if spec.direction == "down" else Phase.REP_UP
        back = Phase.REP_UP if spec.direction == "down" else Phase.REP_DOWN
        phase = {"going": going, "returning": back}.get(ph, Phase.REP_REST)
        if x is None:
            phase = Phase.TRACKING
        if self.done or timed_out:
            phase = Phase.DONE
        return Feedback(phase, cue, joints, level, self.reps, self.live_score(), 0.0, {}, new)

    def _sustained_faults(self, seen_now: set[str], t: float) -> set[str]:
        """The form faults seen without a break for at least the cue onset (a one-frame wobble is
        no fault): only these are attached to a rep, cost points, count in ``form_faults`` and give
        the cue, so the summary, the score and what the person heard agree."""
        self._fault_since = {f: self._fault_since.get(f, t) for f in seen_now}
        return {f for f, since in self._fault_since.items() if t - since >= self.cues.onset_s - 1e-9}

    def _fault_cues(self, faults: list[str]) -> list[str]:
        out = []
        for c in self.prog.form:
            for f in faults:
                measure, _, side = f.partition(":")
                cue = (c.cue_low if side == "low" else c.cue_high) if measure == c.measure else None
                if cue and cue not in out:
                    out.append(cue)
        return out

    def _update_fallback(self, ms: dict[str, Measure], t: float, main_unseen: bool) -> None:
        """Reps the main signal mostly did not see count from the fallback signal.

        A fallback rep counts when the main signal was unseen for more than half of its frames and
        the main counter counted nothing during it; it then resets the main counter, so the same
        rep is not counted twice when the main signal comes back.
        """
        spec, fbc, main = self.prog.reps, self.fb_counter, self.counter
        assert spec is not None and fbc is not None and main is not None and spec.fallback
        self._main_seen.append((t, not main_unseen))
        while self._main_seen and self._main_seen[0][0] < t - 30.0:
            self._main_seen.popleft()
        ev = fbc.update(t, self._signal(ms, spec.fallback), self._rom_values(ms))
        if ev is None or ev.kind != "rep" or ev.rep is None:
            return
        during = [seen for tt, seen in self._main_seen if tt >= ev.rep.t_start]
        if not during or sum(during) > 0.5 * len(during):
            return  # the main signal saw most of this rep: it is the main counter's to count
        last_far = main.reps[-1].t_far if main.reps else -1e9
        if ev.rep.t_far - last_far < spec.min_rep_s or last_far >= ev.rep.t_start:
            return
        rep = ev.rep
        rep.index, rep.source = len(main.reps) + 1, "fallback"
        main.reps.append(rep)
        main._forget()

    def _depth(self, rep) -> float:
        """How much of a full rep this one covered, 0..1 (docs/scoring.md)."""
        spec = self.prog.reps
        assert spec is not None
        if spec.far_target is not None and rep.rest_value is not None and rep.far_value is not None:
            full = spec.far_target - rep.rest_value
            if full == 0 or (full > 0) != (spec.direction == "up"):
                return 1.0  # the rest already lies beyond the target
            return min(1.0, max(0.0, (rep.far_value - rep.rest_value) / full))
        if spec.far_ratio and rep.rest_value and rep.far_value is not None and rep.rest_value > 0:
            full = abs(spec.far_ratio - 1.0) * rep.rest_value
            return min(1.0, max(0.0, abs(rep.far_value - rep.rest_value) / full)) if full > 0 else 1.0
        if spec.rom_target and spec.rom and spec.rom[0] in rep.rom:
            lo, hi = rep.rom[spec.rom[0]]
            start, end = spec.rom_target
            far = lo if end < start else hi
            return min(1.0, max(0.0, (start - far) / (start - end))) if start != end else 1.0
        if self.counter is not None and self.counter.reps:
            return min(1.0, rep.amplitude / max(r.amplitude for r in self.counter.reps))
        return 1.0

    def _judge_rep(self, rep) -> None:
        spec = self.prog.reps
        assert spec is not None
        if spec.far_ratio or spec.far_target is not None or (spec.rom_target and spec.rom and spec.rom[0] in rep.rom):
            if self._depth(rep) < 0.75:
                rep.faults.append("incomplete")
                rep.complete = False
        if rep.duration_s and rep.t_counted - rep.t_start < spec.min_rep_s / 2:
            rep.faults.append("fast")

    def _finish_chair_stand(self) -> None:
        """30-second chair stand: a stand more than halfway up at the whistle counts."""
        assert self.counter is not None
        self.done = True
        c = self.counter
        if c.seeking == "max" and c.rest is not None and c.hist and c.reps:
            typical = float(np.median([r.amplitude for r in c.reps]))
            y_now = c.hist[-1][1]
            if y_now - c.rest[0] > 0.5 * typical:
                self.clinical_count_extra = 1
        c.seeking = None  # the test is over: nothing more counts

    @property
    def reps(self) -> int:
        return 0 if self.counter is None else self.counter.count + self.clinical_count_extra

    # ------------------------------------------------------------ scores and summary
    def _rep_parts(self, rep) -> tuple[float, float, float]:
        """(depth, form, tempo) of one rep, each 0..1 (docs/scoring.md)."""
        spec = self.prog.reps
        assert spec is not None
        depth = self._depth(rep)
        form_faults = [f for f in rep.faults if f not in ("incomplete", "fast")]
        form = 0.5 ** len(form_faults)
        tempo = 1.0 if spec.min_rep_s <= rep.duration_s <= spec.max_rep_s else 0.5
        return depth, form, tempo

    def _rep_score(self, rep) -> float:
        depth, form, tempo = self._rep_parts(rep)
        return 100.0 * (0.6 * depth + 0.25 * form + 0.15 * tempo)

    def live_score(self) -> float:
        if self.counter is not None:
            reps = self.counter.reps
            return round(float(np.mean([self._rep_score(r) for r in reps])), 1) if reps else 0.0
        if self.match_n:
            if self.prog.clinical is not None and self.prog.clinical.test == "single-leg-stance":
                best = max(self.best_hold_s, self.hold_s if self.holding else 0.0)
                return round(100 * min(1.0, best / self.prog.clinical.max_hold_s), 1)
            return self.pose_score()
        return 0.0

    def pose_score_parts(self) -> dict:
        """The numbers behind a target-pose score, so far (docs/scoring.md)."""
        mean_match = self.match_sum / self.match_n if self.match_n else 0.0
        best = max(self.best_hold_s, self.hold_s if self.holding else 0.0)
        hold_part = min(1.0, best / self.prog.hold_target_s)
        return {"mean_match": round(mean_match, 3), "frames_judged": self.match_n, "best_hold_s": round(best, 2),
                "hold_target_s": self.prog.hold_target_s, "hold_part": round(hold_part, 3),
                "match_points": round(50 * mean_match, 1), "hold_points": round(50 * hold_part, 1),
                "formula": "50*mean_match + 50*min(1, best_hold_s/hold_target_s)"}

    def pose_score(self) -> float:
        """The target-pose score so far: the live score and the summary's are this one number."""
        parts = self.pose_score_parts()
        return round(100 * (0.5 * parts["mean_match"] + 0.5 * parts["hold_part"]), 1)

    def summary(self) -> dict:
        """The session summary (JSON-able); fields are documented in docs/formats.md."""
        if self.counter is not None:
            self.counter.finish()
        if self.holding and self.t_last is not None:
            self._end_hold(self.t_last)
        p = self.prog
        t0 = self.t0 or 0.0
        dur = (self.t_last - t0) if self.t_last is not None else 0.0
        out: dict = {
            "program": p.name, "title": p.title, "kind": p.kind,
            "duration_s": round(dur, 2), "tracked_s": round(self.tracked_s, 2),
            "frames": self.frames, "frames_with_person": self.frames_with_person,
            "reps": int(self.reps),
            "hold_s": round(self.best_hold_s, 2), "on_target_s": round(self.on_target_s, 2),
            "cue_counts": dict(self.cues.counts),
        }
        if self.counter is not None:
            reps = self.counter.reps
            hidden = self.plane.unmeasurable()  # joints this camera view cannot measure
            rows = []
            for r in reps:
                rom = {k: {"min": round(v[0], 1), "max": round(v[1], 1), "range": round(v[1] - v[0], 1)}
                       for k, v in r.rom.items() if k not in hidden}
                rows.append({
                    "index": r.index, "t_start": round(r.t_start - t0, 2), "t_far": round(r.t_far - t0, 2),
                    "t_end": None if r.t_end is None else round(r.t_end - t0, 2),
                    "duration_s": round(r.duration_s, 2), "amplitude": round(r.amplitude, 3),
                    "rom": rom, "faults": list(r.faults), "complete": r.complete, "counted_on": r.source,
                    "score": round(self._rep_score(r), 1),
                })
            out["rep_list"] = rows
            out["partial_reps"] = self.counter.partials
            spec = p.reps
            assert spec is not None
            rom_summary = {}
            for name in spec.rom:
                ranges = [row["rom"][name]["range"] for row in rows if name in row["rom"]]
                if ranges:
                    rom_summary[name] = {"min": min(ranges), "max": max(ranges), "mean": round(float(np.mean(ranges)), 1),
                                         "unit": "deg" if name in SIDED[:8] or name in ANGLE_MEASURES else "torso"}
            rom_summary.update(hidden)
            out["rom"] = rom_summary
            first = spec.rom[0] if spec.rom else None
            out["rep_rom_deg"] = [row["rom"][first]["range"] for row in rows if first and first in row["rom"]]
            out["rep_times"] = [row["t_end"] if row["t_end"] is not None else round(reps[i].t_counted - t0, 2)
                                for i, row in enumerate(rows)]
            out["rep_scores"] = [row["score"] for row in rows]
            durs = [row["duration_s"] for row in rows]
            out["tempo"] = {"mean_rep_s": round(float(np.mean(durs)), 2) if durs else None,
                            "reps_per_min": round(60 * len(rows) / dur, 1) if dur > 0 else None}
            out["form_faults"] = {f: n for f, n in sorted(self.fault_frames.items())}
            out["score"] = self.live_score()
            parts = [self._rep_parts(r) for r in reps]
            mean = lambda i: round(float(np.mean([pt[i] for pt in parts])), 3) if parts else None  # noqa: E731
            out["score_parts"] = {
                "depth": mean(0), "form": mean(1), "tempo": mean(2), "reps": len(parts),
                "reps_with_form_faults": sum(1 for r in reps if any(f not in ("incomplete", "fast") for f in r.faults)),
                "formula": "mean over reps of 60*depth + 25*form + 15*tempo; form halves with each form fault "
                           "held for 0.6 s in the rep (docs/scoring.md)"}
        else:
            parts = self.pose_score_parts()
            out["mean_match"] = parts["mean_match"]
            out["holds"] = self.holds
            out["score"] = self.pose_score()
            out["score_parts"] = parts
        if p.clinical is not None:
            out["clinical"] = self._clinical_result(out)
            if "score" in out["clinical"]:
                out["score"] = out["clinical"]["score"]
        out["score"] = float(max(0.0, min(100.0, out["score"])))
        return out

    def _clinical_result(self, out: dict) -> dict:
        c = self.prog.clinical
        assert c is not None
        if c.test == "chair-stand-30s":
            return {"test": c.test, "stands": int(self.reps), "duration_s": c.duration_s,
                    "completed": bool(self.done),
                    "note": "CDC STEADI: below-average counts depend on age and sex (e.g. < 12 for women 60-64)"}
        if c.test == "single-leg-stance":
            # the program's checks are written for standing on the left leg; mirrored = the right
            sides: dict[str, float] = {}
            for h in self.holds:
                k = "right" if h.get("side") == "mirrored" else "left"
                sides[k] = round(max(sides.get(k, 0.0), h["hold_s"]), 2)
            best = max([h["hold_s"] for h in self.holds], default=0.0)
            return {"test": c.test, "best_hold_s": round(best, 2), "best_hold_by_standing_leg_s": sides,
                    "trials": len(self.holds), "max_hold_s": c.max_hold_s,
                    "score": round(100 * min(1.0, best / c.max_hold_s), 1)}
        reps = self.counter.reps if self.counter else []
        tug = None
        if reps and reps[0].t_end is not None:
            tug = round(reps[0].t_end - reps[0].t_start, 2)
        res = {"test": c.test, "time_s": tug, "distance_m": c.distance_m,
               "fall_risk": None if tug is None else bool(tug >= 12.0)}
        if tug is not None:
            res["score"] = round(100 * min(1.0, max(0.0, (30.0 - tug) / 20.0)), 1)
        return res


def nan_to_none(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x
