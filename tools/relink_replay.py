"""Re-run only the joining of fragments into people (`edgepose.analyze.relink.Linker`) on a
saved pass 1, so a change to the joining is measured in seconds instead of a full analysis.

    # once: a full analysis that also saves the fragments handed to the joining
    python tools/relink_replay.py capture VIDEO /tmp/cap
    # then, any number of times, with LinkConfig fields changed on the command line
    python tools/relink_replay.py link /tmp/cap/fragments.pkl /tmp/cap/relinked.jsonl --set stature_scale=0
    python tools/crowd_audit.py score tests/data/vtest_audit.json /tmp/cap/relinked.jsonl --brief

``link`` writes a ``poses.jsonl`` with every fragment's poses (``coco17`` keypoints, the new
``id`` and the fragment's ``uid``), enough for ``crowd_audit.py score`` and ``track_eval.py
--summary`` (not for the report or the annotated video), and prints every join and refusal.
The pickle is a local cache of the code that wrote it: re-capture after changing pass 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import pickle
import sys
from pathlib import Path

from edgepose.analyze import relink


def capture(video: str, out: Path) -> None:
    from edgepose.analyze.runner import AnalyzeConfig, analyze

    out.mkdir(parents=True, exist_ok=True)
    orig = relink.Linker.link

    def link(self, frags):
        with open(out / "fragments.pkl", "wb") as fh:
            pickle.dump({"frags": frags, "evidence": self.evidence, "fps": self.fps}, fh)
        return orig(self, frags)

    relink.Linker.link = link
    try:
        res = analyze(video, out, AnalyzeConfig(annotate=False, report=False))
    finally:
        relink.Linker.link = orig
    print(json.dumps({"frames": res.pass1.frames, "fragments": res.pass1.fragments, "ids": res.pass1.ids}))


def link(pkl: Path, out: Path, settings: list[str], frames: int | None = None) -> dict:
    with open(pkl, "rb") as fh:
        d = pickle.load(fh)        # noqa: S301 -- our own local cache
    frags = d["frags"]
    fields = {f.name: f.type for f in dataclasses.fields(relink.LinkConfig)}
    kw = {}
    for s in settings:
        k, v = s.split("=", 1)
        if k not in fields:
            raise SystemExit(f"no LinkConfig field {k!r}")
        kw[k] = float(v)
    linker = relink.Linker(d["fps"], relink.LinkConfig(**kw), d["evidence"])
    person = linker.link(frags)
    n = max(int(f.frames[-1]) for f in frags) + 1 if frags else 0
    rows: list[list[dict]] = [[] for _ in range(max(n, frames or 0))]
    for f in frags:
        for o in f.obs:
            if id(o) in linker.dropped:                       # drifted onto someone else
                continue
            uid = linker.fragment_of.get(id(o), f.uid)      # a repaired swap moves poses
            rows[o.frame].append({"id": person[uid], "uid": uid, "coco17": o.kp.round(2).tolist()})
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w") as fh:
        for i, ps in enumerate(rows):
            fh.write(json.dumps({"frame": i, "t": i / d["fps"], "poses": ps}) + "\n")
    return {"fragments": len(frags), "people": len(set(person.values())), "joins": linker.merges, "swaps": linker.swaps,
            "refused_as_ambiguous": linker.ambiguous, "stature_residual": linker.stature_residual,
            "stature_used": bool(linker.stature)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("capture", help="full analysis, saving the fragments before the joining")
    c.add_argument("video")
    c.add_argument("out", type=Path)
    k = sub.add_parser("link", help="re-run the joining on saved fragments")
    k.add_argument("fragments", type=Path)
    k.add_argument("out", type=Path)
    k.add_argument("--set", dest="settings", action="append", default=[], metavar="FIELD=VALUE",
                   help="a LinkConfig field, e.g. stature_scale=0 (repeatable)")
    k.add_argument("--frames", type=int, help="the clip's frame count (default: up to the last pose)")
    a = ap.parse_args(argv)
    if a.cmd == "capture":
        capture(a.video, a.out)
    else:
        logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stdout)
        logging.getLogger("edgepose.analyze.relink").setLevel(logging.DEBUG)
        print(json.dumps(link(a.fragments, a.out, a.settings, a.frames)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
