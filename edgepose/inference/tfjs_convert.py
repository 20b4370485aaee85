"""Convert a TensorFlow.js graph model to a TFLite file (run in the converter venv, not edgepose's).

``edgepose models fetch movenet-lightning`` runs this file with the python of a separate venv
that holds TensorFlow (see :func:`edgepose.inference.models.ensure_converter`); edgepose itself
never imports TensorFlow. The steps: the TF.js graph (``model.json`` + weight shards) becomes a
SavedModel with ``tfjs-graph-converter`` -- with TF.js's fused ops split back into plain TF ops,
which TFLite's builtin op set covers -- and the SavedModel becomes a TFLite flatbuffer with
float16 weights (the published TF.js weights are float16 already, so nothing is lost; outputs
agree with TF.js itself to ~1e-6). With the pinned tool versions the bytes are identical run to
run, which is what lets the manifest pin the result's sha256.

Usage::

    <converter-venv>/bin/python -m edgepose.inference.tfjs_convert MODEL_JSON OUT.tflite
    <converter-venv>/bin/python path/to/tfjs_convert.py MODEL_JSON OUT.tflite
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import types


def _import_tfjs_readers_only() -> None:
    """``tensorflowjs/__init__`` imports jax, flax and TF Hub, which the converter never uses;
    register its package and ``converters`` subpackage as bare modules so only the two leaf
    modules tfjs-graph-converter needs (weight reading and constants) are imported."""
    spec = importlib.util.find_spec("tensorflowjs")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("tensorflowjs is not installed in this venv (pip install --no-deps tensorflowjs)")
    root = list(spec.submodule_search_locations)[0]
    for name, path in (("tensorflowjs", root), ("tensorflowjs.converters", os.path.join(root, "converters"))):
        if name not in sys.modules:
            mod = types.ModuleType(name)
            mod.__path__ = [path]
            mod.__package__ = name
            sys.modules[name] = mod


def convert(model_json: str, out_path: str) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    _import_tfjs_readers_only()
    import tensorflow as tf
    import tfjs_graph_converter.api as tfjs_api
    from tfjs_graph_converter.common import CompatMode

    with tempfile.TemporaryDirectory(prefix="tfjs-saved-") as tmp:
        saved = os.path.join(tmp, "saved_model")
        tfjs_api.graph_model_to_saved_model(model_json, saved, compat_mode=CompatMode.TFLITE)
        conv = tf.lite.TFLiteConverter.from_saved_model(saved)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
        flat = conv.convert()
    tmp_out = out_path + ".part"
    with open(tmp_out, "wb") as fh:
        fh.write(flat)
    os.replace(tmp_out, out_path)
    return len(flat)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="TF.js graph model -> TFLite (float16 weights)")
    ap.add_argument("model_json")
    ap.add_argument("out")
    a = ap.parse_args(argv)
    n = convert(a.model_json, a.out)
    print(f"wrote {a.out} ({n} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
