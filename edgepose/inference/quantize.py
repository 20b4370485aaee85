"""Build a static-INT8 BlazePose landmark model from MediaPipe's float one.

MediaPipe ships ``pose_landmark_full.tflite`` with its weights stored as float16 constants, each
followed by a ``DEQUANTIZE`` op, and without a SignatureDef. ``ai-edge-quantizer`` wants a plain
float32 model with a signature, so :func:`build_int8`

1. folds every fp16 constant into a float32 buffer and removes its ``DEQUANTIZE`` op
   (:func:`fold_fp16_constants`),
2. optionally drops outputs the engine does not use and the ops that only fed them,
3. adds a ``serving_default`` SignatureDef (:func:`add_signature`),
4. calibrates the activations on real person crops (:func:`calibration_crops`) and quantizes
   weights and activations to int8 with ``ai-edge-quantizer``, keeping the layers named in
   ``float_layers`` in float, and
5. removes the buffers nothing refers to any more (:func:`drop_dead_buffers`), so the file really
   is smaller.

The flatbuffer is read and written with the TFLite schema module that ``ai-edge-litert`` ships
(``ai_edge_litert.schema_py_generated``); ``flatbuffers`` is the runtime it needs.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgepose.errors import ModelError

log = logging.getLogger(__name__)

SIGNATURE_KEY = "serving_default"
LANDMARK_INPUT = 256

# Output tensors of pose_landmark_full.tflite, in the model's own order.
LANDMARK_OUTPUTS = ("Identity", "Identity_1", "Identity_2", "Identity_3", "Identity_4")
SEGMENTATION_OUTPUT = "Identity_2"

# Layers kept in float by default: regexes over an op's scope, which ai-edge-quantizer makes
# from its output tensor names ("name;"). Measured on the shared images (docs/benchmarks.md,
# "INT8 landmark model"): with every op in int8 the landmarks drift by ~12 px (256-px crop) and
# the pose flag drifts low; the error enters at the stem (the first conv pair sees the raw image)
# and the pose-flag / world-landmark heads amplify the trunk's error (relative error 0.8-0.9 at
# their outputs). Keeping the stem and the last 2x2 stage with the heads in float (their weights
# stored as fp16, as MediaPipe ships them) brings it back to ~5 px and 97 % pose-flag agreement.
STEM_LAYERS = r"^model_1/model/(zero_padding2d/Pad|re_lu/Relu6|re_lu_1/Relu6);"
HEAD_LAYERS = (r"^model_1/model/(re_lu_(5[3-9]|6[0-3])/|batch_normalization_7[0-8]/|convld_3d/|convworld_3d/"
               r"|conv_poseflag/|activation_poseflag/)|^Identity(_1|_4)?;$")
DEFAULT_FLOAT_LAYERS: tuple[str, ...] = (STEM_LAYERS, HEAD_LAYERS)

Progress = Callable[[str], None]


@dataclass
class QuantizeReport:
    """What :func:`build_int8` did."""

    float_path: Path
    out_path: Path
    float_bytes: int
    folded_bytes: int
    int8_bytes: int
    ops_total: int
    ops_quantized: int
    ops_float: int
    calibration_samples: int
    seconds: float
    outputs: list[str] = field(default_factory=list)
    sha256: str = ""
    notes: list[str] = field(default_factory=list)
    accuracy: Comparison | None = None

    def summary(self) -> str:
        mb = 1 / 1e6
        lines = [
            f"float model   {self.float_path} ({self.float_bytes * mb:.2f} MB)",
            f"int8 model    {self.out_path} ({self.int8_bytes * mb:.2f} MB, "
            f"{100.0 * self.int8_bytes / max(1, self.float_bytes):.0f}% of the float file)",
            f"ops           {self.ops_quantized} of {self.ops_total} run in int8, {self.ops_float} in float",
            f"calibration   {self.calibration_samples} real person crops",
            f"outputs       {', '.join(self.outputs)}",
            f"time          {self.seconds:.1f} s",
        ]
        lines += [f"note          {n}" for n in self.notes]
        c = self.accuracy
        if c is not None:
            lines += [
                f"accuracy      {c.people} annotated people ({c.keypoints} keypoints) of the shared images:",
                f"              PCK@0.2 float {c.pck_float:.3f}, int8 {c.pck_int8:.3f} "
                f"({-c.pck_drop_points:+.1f} points; at most 3 may be lost)",
                f"              landmarks |int8 - float| mean {c.landmark_err_px_mean:.1f} px, "
                f"p95 {c.landmark_err_px_p95:.1f} px (256-px crop)",
                f"              visibility agreement {c.visibility_agreement:.2f}, pose-flag agreement "
                f"{c.pose_flag_agreement:.2f} (mean flag float {c.pose_flag_float_mean:.2f}, "
                f"int8 {c.pose_flag_int8_mean:.2f})",
            ]
        return "\n".join(lines)

    text = summary


# --------------------------------------------------------------------------------------------
# flatbuffer surgery


def _schema():
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:  # pragma: no cover - depends on the installed runtime
        try:
            from ai_edge_quantizer.utils.tfl_flatbuffer_utils import schema_py_generated as schema  # type: ignore
        except ImportError:
            raise ModelError(
                "the TFLite flatbuffer schema module is missing: install ai-edge-litert "
                "(`pip install ai-edge-litert`) to quantize models"
            ) from None
    return schema


def read_model(data: bytes):
    """Parse ``.tflite`` bytes into the schema's mutable object API (``ModelT``)."""
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelError("not a TFLite model (no TFL3 identifier)")
    s = _schema()
    try:
        model = s.ModelT.InitFromObj(s.Model.GetRootAsModel(bytearray(data), 0))
    except Exception as e:  # a truncated flatbuffer fails anywhere inside the generated reader
        raise ModelError(f"the TFLite flatbuffer is damaged or truncated ({type(e).__name__}: {e})") from None
    # ai-edge-quantizer stores constants after the flatbuffer (Buffer.offset/size, counted from
    # the start of the file); bring them back inside so that write_model() keeps them.
    for b in model.buffers:
        if b.offset and b.offset > 1:
            end = int(b.offset) + int(b.size)
            if end > len(data):
                raise ModelError(f"model buffer points past the end of the file ({end} > {len(data)}): truncated")
            b.data = np.frombuffer(bytes(data[int(b.offset):end]), dtype=np.uint8)
            b.offset = 0
            b.size = 0
    return model


def write_model(model) -> bytes:
    """Serialise a ``ModelT`` back to ``.tflite`` bytes."""
    import flatbuffers

    b = flatbuffers.Builder(1 << 20)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _op_name(model, op) -> str:
    s = _schema()
    names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
    oc = model.operatorCodes[op.opcodeIndex]
    return names.get(max(oc.builtinCode, oc.deprecatedBuiltinCode), "CUSTOM")


def _buffer_bytes(model, index: int) -> bytes | None:
    buf = model.buffers[index]
    if buf.data is None or len(buf.data) == 0:
        return None
    return np.asarray(buf.data, dtype=np.uint8).tobytes()


def fold_fp16_constants(model) -> int:
    """Replace each ``DEQUANTIZE(fp16 constant)`` by a float32 constant; return how many.

    The fp16 tensors and their buffers become unused; :func:`prune` removes them.
    """
    s = _schema()
    folded = 0
    for g in model.subgraphs:
        keep = []
        for op in g.operators:
            if _op_name(model, op) == "DEQUANTIZE" and len(op.inputs) == 1:
                src = g.tensors[op.inputs[0]]
                raw = _buffer_bytes(model, src.buffer) if src.type == s.TensorType.FLOAT16 else None
                if raw is not None:
                    values = np.frombuffer(raw, dtype="<f2").astype("<f4")
                    dst = g.tensors[op.outputs[0]]
                    nb = s.BufferT()
                    nb.data = np.frombuffer(values.tobytes(), dtype=np.uint8)
                    model.buffers.append(nb)
                    dst.buffer = len(model.buffers) - 1
                    dst.type = s.TensorType.FLOAT32
                    folded += 1
                    continue
            keep.append(op)
        g.operators = keep
    # The "reduced_precision_support" hint describes the fp16 storage that is now gone.
    if model.metadata:
        model.metadata = [m for m in model.metadata if m.name != b"reduced_precision_support"]
    return folded


def _tensor_names(g) -> list[str]:
    return [t.name.decode() if isinstance(t.name, bytes) else str(t.name) for t in g.tensors]


def keep_outputs(model, names: Iterable[str]) -> list[str]:
    """Keep only the graph outputs named in ``names`` (their model order is kept)."""
    g = model.subgraphs[0]
    tn = _tensor_names(g)
    wanted = set(names)
    missing = wanted - {tn[i] for i in g.outputs}
    if missing:
        raise ModelError(f"the model has no output(s) {sorted(missing)}; it has {[tn[i] for i in g.outputs]}")
    g.outputs = [i for i in g.outputs if tn[i] in wanted]
    return [tn[i] for i in g.outputs]


def prune(model) -> tuple[int, int, int]:
    """Remove ops whose results reach no output, then unused tensors and buffers.

    Returns ``(ops removed, tensors removed, buffers removed)``.
    """
    ops_removed = tensors_removed = 0
    for g in model.subgraphs:
        needed = set(int(i) for i in g.outputs)
        live = []
        for op in reversed(g.operators):
            if any(int(o) in needed for o in op.outputs):
                live.append(op)
                needed.update(int(i) for i in op.inputs if i >= 0)
                if op.intermediates is not None:
                    needed.update(int(i) for i in op.intermediates)
        live.reverse()
        ops_removed += len(g.operators) - len(live)
        g.operators = live
        used = sorted(needed | set(int(i) for i in g.inputs))
        remap = {old: new for new, old in enumerate(used)}
        tensors_removed += len(g.tensors) - len(used)
        g.tensors = [g.tensors[i] for i in used]
        for op in g.operators:
            op.inputs = [remap[int(i)] if i >= 0 else -1 for i in op.inputs]
            op.outputs = [remap[int(i)] for i in op.outputs]
            if op.intermediates is not None:
                op.intermediates = [remap[int(i)] for i in op.intermediates]
        g.inputs = [remap[int(i)] for i in g.inputs]
        g.outputs = [remap[int(i)] for i in g.outputs]
        for sd in model.signatureDefs or []:
            if model.subgraphs[sd.subgraphIndex] is g:
                sd.inputs = [tm for tm in sd.inputs or [] if int(tm.tensorIndex) in remap]
                sd.outputs = [tm for tm in sd.outputs or [] if int(tm.tensorIndex) in remap]
                for tm in sd.inputs + sd.outputs:
                    tm.tensorIndex = remap[int(tm.tensorIndex)]
    return ops_removed, tensors_removed, drop_dead_buffers(model)


def drop_dead_buffers(model) -> int:
    """Remove buffers no tensor or metadata entry refers to; buffer 0 (the empty one) stays."""
    used = {0}
    for g in model.subgraphs:
        used.update(int(t.buffer) for t in g.tensors)
    for m in model.metadata or []:
        used.add(int(m.buffer))
    order = sorted(used)
    remap = {old: new for new, old in enumerate(order)}
    removed = len(model.buffers) - len(order)
    model.buffers = [model.buffers[i] for i in order]
    for g in model.subgraphs:
        for t in g.tensors:
            t.buffer = remap[int(t.buffer)]
    for m in model.metadata or []:
        m.buffer = remap[int(m.buffer)]
    return removed


def add_signature(model, key: str = SIGNATURE_KEY) -> None:
    """Give subgraph 0 a SignatureDef whose input/output names are the tensor names."""
    s = _schema()
    g = model.subgraphs[0]
    tn = _tensor_names(g)

    def tmap(i):
        t = s.TensorMapT()
        t.name = tn[i]
        t.tensorIndex = int(i)
        return t

    sd = s.SignatureDefT()
    sd.signatureKey = key
    sd.subgraphIndex = 0
    sd.inputs = [tmap(i) for i in g.inputs]
    sd.outputs = [tmap(i) for i in g.outputs]
    model.signatureDefs = [sd]


def prepare_float(data: bytes, drop_segmentation: bool = False) -> tuple[bytes, list[str], list[str]]:
    """Fold fp16 constants, optionally drop the segmentation output, add a signature.

    Returns ``(float32 model bytes, output names in order, notes)``.
    """
    model = read_model(data)
    notes = []
    folded = fold_fp16_constants(model)
    if folded:
        notes.append(f"folded {folded} fp16 constants into float32")
    g = model.subgraphs[0]
    tn = _tensor_names(g)
    outputs = [tn[i] for i in g.outputs]
    if drop_segmentation and SEGMENTATION_OUTPUT in outputs:
        outputs = keep_outputs(model, [o for o in outputs if o != SEGMENTATION_OUTPUT])
    model.signatureDefs = None
    ops, tensors, buffers = prune(model)
    if ops:
        notes.append(f"dropped the segmentation output and the {ops} ops that only fed it")
    log.debug("pruned %d ops, %d tensors, %d buffers", ops, tensors, buffers)
    add_signature(model)
    return write_model(model), outputs, notes


def build_lean_float(float_path: Path, out_path: Path) -> tuple[int, int]:
    """The float landmark model without its segmentation output and decoder, weights untouched.

    Its other outputs are bit-identical to the original's (same fp16 weights, same ops); it
    runs in about 0.6x the time. Returns ``(ops before, ops after)``. The checksum goes to
    ``<out_path>.sha256`` as for the int8 model.
    """
    from edgepose.inference.models import sha256_of

    data = Path(float_path).read_bytes()
    try:
        model = read_model(data)
    except ModelError as e:
        raise ModelError(f"{float_path}: {e}; re-fetch it with `edgepose models fetch`") from None
    before = len(model.subgraphs[0].operators)
    names = [n for n in _output_names(model) if n != SEGMENTATION_OUTPUT]
    keep_outputs(model, names)
    prune(model)
    out_path = Path(out_path)
    out_path.write_bytes(write_model(model))
    out_path.with_name(out_path.name + ".sha256").write_text(f"{sha256_of(out_path)}  {out_path.name}\n")
    return before, len(model.subgraphs[0].operators)


def _output_names(model) -> list[str]:
    g = model.subgraphs[0]
    tn = _tensor_names(g)
    return [tn[i] for i in g.outputs]


# --------------------------------------------------------------------------------------------
# quantization


def _quantizer_modules():
    try:
        from ai_edge_quantizer import qtyping, quantizer, recipe
    except ImportError as e:
        raise ModelError(
            f"ai-edge-quantizer is not installed ({e}); install it with "
            "`.venv/bin/pip install -e '.[quantize]'` (or `pip install ai-edge-quantizer`)"
        ) from None
    return quantizer, recipe, qtyping


def _count_ops(data: bytes) -> tuple[int, int]:
    """(ops total, ops whose first activation input is int8) in a model."""
    s = _schema()
    model = read_model(data)
    g = model.subgraphs[0]
    total = q = 0
    for op in g.operators:
        name = _op_name(model, op)
        if name in ("QUANTIZE", "DEQUANTIZE"):
            continue
        total += 1
        ins = [i for i in op.inputs if i >= 0]
        if ins and g.tensors[ins[0]].type in (s.TensorType.INT8, s.TensorType.INT16):
            q += 1
    return total, q


def quantize_static_int8(float32_model: bytes, calibration: list[np.ndarray],
                         float_layers: Iterable[str] = DEFAULT_FLOAT_LAYERS,
                         progress: Progress | None = None, float_weights: str = "fp16") -> bytes:
    """Static int8 (weights per channel, activations per tensor) with ``ai-edge-quantizer``.

    Ops whose output tensor name matches a regex in ``float_layers`` compute in float; their
    convolution weights are stored as ``float_weights``: ``"fp16"`` (as MediaPipe ships them),
    ``"int8"`` (weight-only int8, dequantized before the op) or ``"fp32"``.
    """
    quantizer, recipe, qtyping = _quantizer_modules()
    say = progress or (lambda _m: None)
    q = quantizer.Quantizer(bytearray(float32_model), recipe.static_wi8_ai8())
    ops = qtyping.TFLOperationName
    for pattern in float_layers:
        # scopes are "<output tensor name>;", see ai_edge_quantizer tfl_flatbuffer_utils.get_op_scope
        q.update_quantization_recipe(regex=pattern, operation_name=ops.ALL_SUPPORTED,
                                     algorithm_key=quantizer.AlgorithmName.NO_QUANTIZE)
        for op in (ops.CONV_2D, ops.DEPTHWISE_CONV_2D):
            if float_weights == "int8":
                q.add_weight_only_config(regex=pattern, operation_name=op, num_bits=8)
            elif float_weights == "fp16":
                q.add_weight_only_config(regex=pattern, operation_name=op, num_bits=16,
                                         algorithm_key=quantizer.AlgorithmName.FLOAT_CASTING)
    model = read_model(float32_model)
    in_name = _tensor_names(model.subgraphs[0])[model.subgraphs[0].inputs[0]]
    samples = [{in_name: np.ascontiguousarray(c[None] if c.ndim == 3 else c, dtype=np.float32)}
               for c in calibration]
    say(f"calibrating on {len(samples)} crops")
    with warnings.catch_warnings():
        # calibration keeps every intermediate tensor on purpose; LiteRT warns about that
        warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors.*")
        qsv = q.calibrate({SIGNATURE_KEY: samples}, num_threads=max(1, os.cpu_count() or 1))
        say("quantizing")
        result = q.quantize(qsv, enable_progress_bar=False, enable_progress_report=False)
    return bytes(result.quantized_model)


# Float head convolutions whose bias absorbs the int8 trunk's mean error: output tensor prefix →
# the graph output it feeds.
_HEAD_BIASES = {"model_1/model/convld_3d/": "Identity", "model_1/model/convworld_3d/": "Identity_4",
                "model_1/model/conv_poseflag/": "Identity_1"}


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, np.float64), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def _run_all(interpreter, x: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    d = interpreter.get_input_details()[0]
    if d["dtype"] == np.int8:
        sc, zp = d["quantization"]
        x = np.clip(np.round(x / sc + zp), -128, 127).astype(np.int8)
    interpreter.set_tensor(d["index"], x)
    interpreter.invoke()
    out = {}
    # by position: the graph outputs keep the float model's order, not always its names
    for name, o in zip(names, interpreter.get_output_details(), strict=True):
        y = interpreter.get_tensor(o["index"]).astype(np.float64)
        sc, zp = o["quantization"]
        if o["dtype"] == np.int8 and sc:
            y = (y - zp) * sc
        out[name] = y
    return out


def correct_head_biases(model, float32_model: bytes, int8_model: bytes, calibration: list[np.ndarray],
                        names: list[str]) -> dict[str, float]:
    """Empirical bias correction of the float output heads, on the calibration crops.

    The int8 trunk shifts what the heads see, and the heads turn that into a systematic offset
    (the pose-flag logit comes out ~1.5 lower). For each float head conv, the mean difference
    float - int8 of its output over the calibration crops with a person (median of logits for
    the pose flag, over all crops) is added to its bias. Returns the mean |correction| per head.
    Heads that were quantized (int8 bias) are left alone. ``names``: the graph outputs in order.
    """
    from ai_edge_litert.interpreter import Interpreter

    s = _schema()
    fi = Interpreter(model_content=float32_model)
    qi = Interpreter(model_content=int8_model)
    fi.allocate_tensors()
    qi.allocate_tensors()
    diffs: dict[str, list[np.ndarray]] = {k: [] for k in _HEAD_BIASES.values()}
    for c in calibration:
        x = np.ascontiguousarray(c[None], dtype=np.float32)
        f, q = _run_all(fi, x, names), _run_all(qi, x, names)
        flag_f = float(np.ravel(f["Identity_1"])[0])
        diffs["Identity_1"].append(_logit(f["Identity_1"]).ravel() - _logit(q["Identity_1"]).ravel())
        if flag_f >= 0.5:
            for name in ("Identity", "Identity_4"):
                diffs[name].append((f[name] - q[name]).ravel())
    g = model.subgraphs[0]
    tn = _tensor_names(g)
    done: dict[str, float] = {}
    for op in g.operators:
        if _op_name(model, op) != "CONV_2D" or len(op.inputs) < 3:
            continue
        out_name = tn[op.outputs[0]]
        head = next((v for k, v in _HEAD_BIASES.items() if out_name.startswith(k)), None)
        if head is None or not diffs[head]:
            continue
        bias = g.tensors[op.inputs[2]]
        raw = _buffer_bytes(model, bias.buffer)
        if bias.type != s.TensorType.FLOAT32 or raw is None:
            continue
        d = np.stack(diffs[head])
        delta = np.median(d, axis=0) if head == "Identity_1" else d.mean(axis=0)
        values = np.frombuffer(raw, dtype="<f4").astype(np.float64)
        if delta.shape != values.shape:
            continue
        model.buffers[bias.buffer].data = np.frombuffer((values + delta).astype("<f4").tobytes(), dtype=np.uint8)
        done[head] = float(np.abs(delta).mean())
    return done


def float_boundaries(model) -> int:
    """Remove the int8 round trips ai-edge-quantizer puts at the graph's float edges.

    When the first op computes in float, the quantizer still makes the graph input int8 and
    dequantizes it (with a calibrated range that clips bright pixels); when an output comes from
    a float head, it re-quantizes it (the landmarks to ~2 px steps, the pose flag to a range that
    can stop below 1). Here such inputs and outputs become the float tensors themselves.
    Returns how many were changed; call :func:`prune` afterwards.
    """
    changed = 0
    for g in model.subgraphs:
        consumers: dict[int, list] = {}
        producer: dict[int, object] = {}
        for op in g.operators:
            for i in op.inputs:
                consumers.setdefault(int(i), []).append(op)
            for o in op.outputs:
                producer[int(o)] = op
        drop = set()
        new_inputs = []
        for i in g.inputs:
            ops = consumers.get(int(i), [])
            if len(ops) == 1 and _op_name(model, ops[0]) == "DEQUANTIZE":
                op = ops[0]
                out = int(op.outputs[0])
                g.tensors[out].name = g.tensors[int(i)].name
                new_inputs.append(out)
                drop.add(id(op))
                changed += 1
            else:
                new_inputs.append(int(i))
        new_outputs = []
        for o in g.outputs:
            op = producer.get(int(o))
            if op is not None and _op_name(model, op) == "QUANTIZE" and \
                    g.tensors[int(op.inputs[0])].type == _schema().TensorType.FLOAT32 and \
                    len(consumers.get(int(o), [])) == 0:
                src = int(op.inputs[0])
                g.tensors[src].name = g.tensors[int(o)].name
                new_outputs.append(src)
                drop.add(id(op))
                changed += 1
            else:
                new_outputs.append(int(o))
        g.operators = [op for op in g.operators if id(op) not in drop]
        g.inputs, g.outputs = new_inputs, new_outputs
        for sd in model.signatureDefs or []:
            if model.subgraphs[sd.subgraphIndex] is g:  # signature entries follow the graph's order
                for tm, idx in zip(sd.inputs or [], new_inputs, strict=False):
                    tm.tensorIndex = idx
                for tm, idx in zip(sd.outputs or [], new_outputs, strict=False):
                    tm.tensorIndex = idx
    return changed


def _restore_output_names(model, names: list[str]) -> None:
    """Give the graph outputs (and the signature) the float model's names back.

    ai-edge-quantizer appends ``_quantized`` to an output whose producer it kept in float and
    then re-quantized; the engine finds outputs by name, so the names must not change.
    """
    g = model.subgraphs[0]
    if len(g.outputs) != len(names):
        raise ModelError(f"the quantized model has {len(g.outputs)} outputs, the float one {len(names)}")
    for i, name in zip(g.outputs, names, strict=True):
        g.tensors[i].name = name
    for sd in model.signatureDefs or []:
        by_index = {int(i): n for i, n in zip(g.outputs, names, strict=True)}
        for tm in sd.outputs or []:
            if int(tm.tensorIndex) in by_index:
                tm.name = by_index[int(tm.tensorIndex)]


def build_int8(float_path: Path, out_path: Path, calibration: list[np.ndarray] | None = None,
               progress: Progress | None = None, *, drop_segmentation: bool = True,
               float_layers: Iterable[str] = DEFAULT_FLOAT_LAYERS, float_weights: str = "fp16",
               data_dir: Path | None = None, evaluate: bool = True,
               bias_correction: bool = True) -> QuantizeReport:
    """Build the static-INT8 landmark model ``out_path`` from the float ``float_path``.

    Parameters
    ----------
    float_path
        MediaPipe's ``pose_landmark_full.tflite`` (fp16 weights).
    out_path
        Where the int8 model goes; its sha256 is written to ``<out_path>.sha256`` beside it (the
        loader checks it), and the file appears atomically.
    calibration
        Real 256x256x3 RGB crops in [0, 1]. ``None``: :func:`calibration_crops` over ``data_dir``.
    progress
        Called with one-line status messages.
    drop_segmentation
        Remove the segmentation output (``Identity_2``) and the decoder that computes it (the
        engine does not use it; it is about 40 % of the model's time). The remaining outputs keep
        their order: ``Identity, Identity_1, Identity_3, Identity_4`` (see
        :attr:`QuantizeReport.outputs`); look outputs up by name.
    float_layers
        Regexes over op scopes (``"<output tensor name>;"``) that compute in float;
        ``()`` quantizes every op.
    float_weights
        Storage of the float ops' conv weights: ``"fp16"``, ``"int8"`` (weight-only) or ``"fp32"``.
    bias_correction
        Shift the float heads' biases by the mean int8-vs-float error on the calibration crops
        (:func:`correct_head_biases`).
    data_dir
        The shared data folder (calibration when ``calibration`` is None; accuracy check).
    evaluate
        Compare the result with the float model on ``data_dir/keypoints`` (about a second) and
        put it in :attr:`QuantizeReport.accuracy`.
    """
    from edgepose.inference.models import sha256_of

    t0 = time.monotonic()
    say = progress or (lambda m: log.info("%s", m))
    float_path, out_path = Path(float_path), Path(out_path)
    if not float_path.is_file():
        raise ModelError(f"float model {float_path} does not exist; run `edgepose models fetch` first")
    data = float_path.read_bytes()
    say(f"folding fp16 constants of {float_path.name}")
    try:
        folded, outputs, notes = prepare_float(data, drop_segmentation=drop_segmentation)
    except ModelError as e:
        raise ModelError(f"{float_path}: {e}; re-fetch it with `edgepose models fetch`") from None
    if calibration is None:
        if data_dir is None:
            data_dir = default_data_dir()
        calibration = calibration_crops(data_dir)
    if not calibration:
        raise ModelError("no calibration crops: static int8 needs real images (see calibration_crops)")
    for i, c in enumerate(calibration):
        if c.shape[-3:] != (LANDMARK_INPUT, LANDMARK_INPUT, 3):
            raise ModelError(f"calibration crop {i} has shape {c.shape}; it must be 256x256x3 RGB in [0, 1]")
    float_layers = tuple(float_layers)
    qbytes = quantize_static_int8(folded, calibration, float_layers, say, float_weights=float_weights)
    model = read_model(qbytes)
    _restore_output_names(model, outputs)
    edges = float_boundaries(model)
    if edges:
        prune(model)
        notes.append(f"{edges} graph inputs/outputs computed in float stay float (no int8 round trip)")
        qbytes = write_model(model)
        model = read_model(qbytes)
    if bias_correction and float_layers:
        fixed = correct_head_biases(model, folded, qbytes, calibration, outputs)
        if fixed:
            notes.append("bias-corrected float heads on the calibration crops (mean |shift|: "
                         + ", ".join(f"{k} {v:.3g}" for k, v in fixed.items()) + ")")
    dead = drop_dead_buffers(model)
    if dead:
        notes.append(f"dropped {dead} dead buffers after quantization")
    qbytes = write_model(model)
    if float_layers == DEFAULT_FLOAT_LAYERS:
        notes.append(f"kept in float ({float_weights} weights): the input stem and the last 2x2 stage with "
                     "the output heads")
    elif float_layers:
        notes.append(f"kept in float ({float_weights} weights): " + ", ".join(float_layers))
    total, nq = _count_ops(qbytes)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=out_path.name, suffix=".part", dir=out_path.parent)
    with os.fdopen(fd, "wb") as fh:
        fh.write(qbytes)
    os.chmod(tmp, 0o644)
    os.replace(tmp, out_path)
    digest = sha256_of(out_path)
    out_path.with_name(out_path.name + ".sha256").write_text(f"{digest}  {out_path.name}\n")
    report = QuantizeReport(
        float_path=float_path, out_path=out_path, float_bytes=len(data), folded_bytes=len(folded),
        int8_bytes=len(qbytes), ops_total=total, ops_quantized=nq, ops_float=total - nq,
        calibration_samples=len(calibration), seconds=0.0, outputs=outputs,
        sha256=digest, notes=notes,
    )
    if evaluate:
        eval_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        if any(eval_dir.glob("keypoints/*/*.json")):
            say("comparing with the float model on the annotated images")
            report.accuracy = evaluate_models(float_path, out_path, eval_dir)
            if report.accuracy.pck_drop_points > 3.0:
                report.notes.append(f"WARNING: int8 loses {report.accuracy.pck_drop_points:.1f} PCK points "
                                    "(> 3): prefer the float model, or calibrate on more frames from this camera")
        else:
            report.notes.append(f"no annotated images under {eval_dir / 'keypoints'}: accuracy not checked")
    report.seconds = time.monotonic() - t0
    return report


# --------------------------------------------------------------------------------------------
# calibration data


def default_data_dir() -> Path:
    """``../shared/data`` next to the source checkout."""
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@dataclass(frozen=True)
class Roi:
    """A square, rotated region of an image: centre, side (pixels) and the crop's "down" axis."""

    cx: float
    cy: float
    side: float
    down: tuple[float, float] = (0.0, 1.0)  # unit vector in image pixels

    def crop_to_image(self, size: int = LANDMARK_INPUT) -> np.ndarray:
        """2x3 affine matrix taking crop pixel (u, v) to image pixel (x, y)."""
        dx, dy = self.down
        rx, ry = dy, -dx  # "right" of the crop: the down axis turned 90 degrees counter-clockwise
        k = self.side / size
        return np.array([
            [k * rx, k * dx, self.cx - self.side / 2 * (rx + dx)],
            [k * ry, k * dy, self.cy - self.side / 2 * (ry + dy)],
        ], dtype=np.float64)

    def image_to_crop(self, size: int = LANDMARK_INPUT) -> np.ndarray:
        import cv2

        return cv2.invertAffineTransform(self.crop_to_image(size))


def crop(image_rgb: np.ndarray, roi: Roi, size: int = LANDMARK_INPUT) -> np.ndarray:
    """The landmark model's input for ``roi``: size x size x 3 float32 RGB in [0, 1].

    Pixels outside the image repeat the border, as MediaPipe's ImageToTensor does for this model.
    """
    import cv2

    out = cv2.warpAffine(image_rgb, roi.crop_to_image(size), (size, size),
                         flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    return out.astype(np.float32) / 255.0


def roi_from_alignment(centre: np.ndarray, top: np.ndarray, scale: float = 1.25) -> Roi:
    """MediaPipe's body ROI from two alignment points (hip centre, a point above the head).

    Side = 2 x their distance x ``scale``; the crop is turned so that ``top`` is straight up.
    """
    d = np.asarray(top, float) - np.asarray(centre, float)
    r = float(np.hypot(*d))
    if r < 1.0:
        raise ValueError("alignment points coincide")
    down = (-d[0] / r, -d[1] / r)
    return Roi(float(centre[0]), float(centre[1]), 2.0 * r * scale, down)


# BlazePose landmark 33 = hip centre, 34 = the point that sets the body's scale and rotation.
_ALIGN_CENTRE, _ALIGN_TOP = 33, 34


def roi_from_landmarks(landmarks_crop: np.ndarray, roi: Roi, size: int = LANDMARK_INPUT) -> Roi:
    """Next ROI from the landmark model's output (39 x >=2 crop pixels), as MediaPipe tracks."""
    m = roi.crop_to_image(size)
    pts = landmarks_crop[[_ALIGN_CENTRE, _ALIGN_TOP], :2] @ m[:, :2].T + m[:, 2]
    return roi_from_alignment(pts[0], pts[1])


# ---- annotated people


@dataclass
class AnnotatedPerson:
    """One annotated person: image file, COCO-17 keypoints (17 x 3, v=0 unlabelled) and box."""

    image: Path
    keypoints: np.ndarray
    bbox: tuple[float, float, float, float]
    source: str

    @property
    def labelled(self) -> int:
        return int((self.keypoints[:, 2] > 0).sum())


_COCO17 = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
           "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
           "left_knee", "right_knee", "left_ankle", "right_ankle")
_MPII16 = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis",
           "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow", "right_shoulder",
           "left_shoulder", "left_elbow", "left_wrist")


def _norm(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _to_coco17(values: np.ndarray, names: list[str]) -> np.ndarray:
    out = np.zeros((17, 3), np.float64)
    for i, n in enumerate(names):
        if n in _COCO17 and i < len(values):
            out[_COCO17.index(n)] = values[i]
    out[out[:, 2] <= 0] = 0.0
    return out


def _kp_box(k: np.ndarray) -> tuple[float, float, float, float]:
    lab = k[k[:, 2] > 0, :2]
    x0, y0 = lab.min(0)
    x1, y1 = lab.max(0)
    return float(x0), float(y0), float(x1 - x0), float(y1 - y0)


def load_annotations(json_path: Path) -> list[AnnotatedPerson]:
    """People of a COCO-style (any keypoint layout named in ``categories``) or MPII-list JSON."""
    try:
        data = json.loads(Path(json_path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ModelError(f"cannot read annotations {json_path}: {e}") from e
    base = Path(json_path).parent
    people: list[AnnotatedPerson] = []
    if isinstance(data, list):  # MPII: one entry per person
        for e in data:
            j = np.asarray(e["joints"], float)
            v = np.asarray(e["joints_vis"], float)[:, None] * 2
            k = _to_coco17(np.hstack([j, v]), list(_MPII16))
            if k[:, 2].any():
                people.append(AnnotatedPerson(base / e["image"], k, _kp_box(k), str(json_path)))
        return people
    names = [_norm(n) for n in data["categories"][0]["keypoints"]]
    images = {im["id"]: base / im["file_name"] for im in data["images"]}
    for a in data["annotations"]:
        kp = np.asarray(a["keypoints"], float).reshape(-1, 3)
        k = _to_coco17(kp, names if len(names) == len(kp) else list(_COCO17))
        if not k[:, 2].any():
            continue
        box = tuple(a["bbox"]) if a.get("bbox") else _kp_box(k)
        people.append(AnnotatedPerson(images[a["image_id"]], k, box, str(json_path)))
    return people


def roi_from_keypoints(k: np.ndarray, margin: float = 1.1) -> Roi | None:
    """A BlazePose-like ROI from ground-truth keypoints (COCO-17).

    Centre at the hip midpoint, turned so that the shoulder midpoint is up, radius = the farthest
    labelled keypoint from the hip centre x ``margin``, then MediaPipe's 1.25 enlargement. Without
    both hips and shoulders: an upright square around the labelled keypoints, 1.5x their extent.
    """
    lab = k[:, 2] > 0
    if lab.sum() < 2:
        return None
    if lab[[5, 6, 11, 12]].all():
        hip = (k[11, :2] + k[12, :2]) / 2
        sho = (k[5, :2] + k[6, :2]) / 2
        up = sho - hip
        n = float(np.hypot(*up))
        if n >= 1.0:
            r = max(float(np.max(np.hypot(*(k[lab, :2] - hip).T))), n) * margin
            return roi_from_alignment(hip, hip + up / n * r)
    x, y, w, h = _kp_box(k)
    side = max(w, h) * 1.5
    if side < 4:
        return None
    return Roi(x + w / 2, y + h / 2, side)


def _read_rgb(path: Path) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ModelError(f"cannot read image {path}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def person_crops(people: Iterable[AnnotatedPerson], min_keypoints: int = 6
                 ) -> list[tuple[AnnotatedPerson, Roi, np.ndarray]]:
    """(person, ROI, 256x256 crop) for each person with at least ``min_keypoints`` labelled."""
    cache: dict[Path, np.ndarray] = {}
    out = []
    for p in people:
        if p.labelled < min_keypoints:
            continue
        roi = roi_from_keypoints(p.keypoints)
        if roi is None:
            continue
        if p.image not in cache:
            cache[p.image] = _read_rgb(p.image)
        out.append((p, roi, crop(cache[p.image], roi)))
    return out


def evaluation_people(data_dir: Path, tracking: bool = True) -> list[AnnotatedPerson]:
    """The annotated people of ``keypoints/`` (and ``tracking/``): the evaluation set.

    :func:`calibration_crops` never reads these folders.
    """
    people: list[AnnotatedPerson] = []
    for j in sorted(Path(data_dir).glob("keypoints/*/*.json")):
        people += load_annotations(j)
    if tracking:
        for j in sorted(Path(data_dir).glob("tracking/*/annotations.json")):
            people += load_annotations(j)
    return people


def _frames(paths: list[Path], per_video: int):
    """Evenly spaced RGB frames of each video (skipping the first and last)."""
    import cv2

    for path in paths:
        cap = cv2.VideoCapture(str(path))
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or 0
        if not cap.isOpened() or n <= 0:
            log.warning("cannot read video %s; skipped for calibration", path)
            continue
        for idx in np.linspace(0, n - 1, per_video + 2)[1:-1].astype(int):
            cap.set(cv2.CAP_PROP_POS_FRAMES, int(idx))
            ok, frame = cap.read()
            if ok:
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        cap.release()


def _pose_flag(model, x: np.ndarray) -> tuple[float, np.ndarray]:
    outs = model.run(x[None])
    return float(np.ravel(_by_name(model, outs, "Identity_1"))[0]), \
        np.asarray(_by_name(model, outs, "Identity"), np.float64).reshape(39, 5)


def _person_from_frame(rgb: np.ndarray, model) -> np.ndarray | None:
    """A person crop from a frame with one main person, or None if the model finds nobody.

    The first crop is a centred square of the whole frame; the float landmark model then
    re-centres it from its own landmarks 33/34, as MediaPipe's tracking does, until the ROI
    stops shrinking (from a whole frame that takes several steps).
    """
    h, w = rgb.shape[:2]
    roi = Roi(w / 2, h / 2, float(max(w, h)))
    x = crop(rgb, roi)
    for _ in range(10):
        flag, lm = _pose_flag(model, x)
        if flag < 0.5:
            return None
        try:
            new = roi_from_landmarks(lm, roi)
        except ValueError:
            return None
        done = abs(new.side - roi.side) < 0.03 * roi.side
        roi = new
        x = crop(rgb, roi)
        if done:
            break
    return x if _pose_flag(model, x)[0] >= 0.5 else None


def _background_from_frame(rgb: np.ndarray, model) -> list[np.ndarray]:
    """Corner squares (half the frame's short side) in which the float model sees no body."""
    h, w = rgb.shape[:2]
    side = min(h, w) / 2
    out = []
    for cx, cy in ((side / 2, side / 2), (w - side / 2, side / 2), (side / 2, h - side / 2), (w - side / 2, h - side / 2)):
        x = crop(rgb, Roi(cx, cy, side))
        if _pose_flag(model, x)[0] < 0.2:
            out.append(x)
    return out


EVALUATION_FOLDERS = ("keypoints", "tracking")  # annotated: used to judge, never to calibrate
_VIDEO_EXT = {".mp4", ".mov", ".avi", ".mkv", ".webm"}
_IMAGE_EXT = {".jpg", ".jpeg", ".png", ".bmp"}


def _calibration_sources(data_dir: Path) -> tuple[list[Path], list[Path]]:
    videos, images = [], []
    for f in sorted(data_dir.rglob("*")):
        rel = f.relative_to(data_dir).parts
        if not f.is_file() or (rel and rel[0] in EVALUATION_FOLDERS):
            continue
        if f.suffix.lower() in _VIDEO_EXT:
            videos.append(f)
        elif f.suffix.lower() in _IMAGE_EXT:
            images.append(f)
    return videos, images


def calibration_crops(data_dir: Path, n: int = 64, float_model: Path | None = None) -> list[np.ndarray]:
    """``n`` real crops (256x256x3 float32 RGB in [0, 1]) for static int8 calibration.

    Taken from every video and image under ``data_dir`` except the annotated evaluation folders
    (``keypoints/``, ``tracking/``), so the accuracy check never sees a calibration image. On the
    shared data that is the ``exercise/`` and ``video/`` clips and the ``yoga/`` photos; on a
    device, point it at footage from its own camera.

    * seven in eight: people, framed as the tracker frames them: the float landmark model
      (``float_model``; default: the verified ``pose_landmark_full``) starts from the whole
      frame and re-centres the ROI from its landmarks 33/34 until it settles; frames where it
      finds nobody are skipped. About half from clips (a few evenly spaced frames each), half
      from photos.
    * one in eight: background squares from frame corners in which the float model sees nobody
      (pose flag < 0.2). Without them every crop has a person, the pose-flag logit is calibrated
      to positive values only, and an all-int8 model can no longer say "nobody here" (its flag
      sticks at 0.5).

    Deterministic: the same files give the same crops in the same order.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise ModelError(f"calibration data folder {data_dir} does not exist; pass a folder of videos or "
                         "photos of people (e.g. ../shared/data)")
    videos, images = _calibration_sources(data_dir)
    if not videos and not images:
        raise ModelError(f"no videos or images under {data_dir} outside {', '.join(EVALUATION_FOLDERS)}/ "
                         "to calibrate on")
    from edgepose.inference import runtime
    from edgepose.inference.models import verified_path

    model = runtime.load(float_model or verified_path("pose_landmark_full"), threads=max(1, os.cpu_count() or 1))
    n_neg = n // 8
    want = n - n_neg
    from_videos = want if not images else (want // 2 if videos else 0)
    people: list[np.ndarray] = []
    background: list[np.ndarray] = []
    quota = -(-from_videos // max(1, len(videos)))
    for v in videos:  # up to `quota` people per clip, from three times as many frames
        got = bg = 0
        for rgb in _frames([v], max(3 * quota, 2)):
            if got < quota and len(people) < from_videos:
                x = _person_from_frame(rgb, model)
                if x is not None:
                    people.append(x)
                    got += 1
            if bg < 2:  # at most two background squares per clip, for variety
                found = _background_from_frame(rgb, model)[:1]
                background += found
                bg += len(found)
    if images:
        # walk the photos in an order spread over all folders, until enough people are found
        order = np.argsort((np.arange(len(images)) * 0.6180339887) % 1.0, kind="stable")
        bg = 0
        for i in order:
            if len(people) >= want:
                break
            try:
                rgb = _read_rgb(images[int(i)])
            except ModelError as e:
                log.warning("%s; skipped for calibration", e)
                continue
            x = _person_from_frame(rgb, model)
            if x is not None:
                people.append(x)
            if bg < n_neg:
                found = _background_from_frame(rgb, model)[:1]
                background += found
                bg += len(found)
    picks = np.linspace(0, len(background) - 1, min(n_neg, len(background))).round().astype(int) if background else []
    crops = people + [background[i] for i in picks]
    if len(crops) < n:
        log.warning("only %d calibration crops found under %s (wanted %d)", len(crops), data_dir, n)
    return crops


# --------------------------------------------------------------------------------------------
# accuracy of the int8 model against the float one


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


def _by_name(model, outs: list[np.ndarray], name: str) -> np.ndarray:
    for spec, y in zip(model.outputs, outs, strict=True):
        if spec.name == name:
            return y
    raise ModelError(f"{model.path} has no output {name!r}; it has {[s.name for s in model.outputs]}")


@dataclass
class LandmarkResult:
    """One model's answer on one crop: 33 body landmarks (crop px), visibility, pose flag."""

    xy: np.ndarray
    visibility: np.ndarray
    pose_flag: float


def run_landmarks(model, x: np.ndarray) -> LandmarkResult:
    outs = model.run(np.ascontiguousarray(x[None] if x.ndim == 3 else x, dtype=np.float32))
    lm = np.asarray(_by_name(model, outs, "Identity"), np.float64).reshape(39, 5)
    flag = float(np.ravel(_by_name(model, outs, "Identity_1"))[0])
    return LandmarkResult(lm[:33, :2], _sigmoid(lm[:33, 3]), flag)


# COCO-17 joint -> BlazePose-33 landmark with the same name.
_COCO_FROM_BLAZE = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)


def pck_hits(res: LandmarkResult, roi: Roi, person: AnnotatedPerson, alpha: float = 0.2) -> tuple[int, int]:
    """(correct, labelled) COCO-17 keypoints of ``person``; threshold ``alpha`` x max(box w, h)."""
    m = roi.crop_to_image()
    img = res.xy @ m[:, :2].T + m[:, 2]
    pred = img[list(_COCO_FROM_BLAZE)]
    lab = person.keypoints[:, 2] > 0
    thr = alpha * max(person.bbox[2], person.bbox[3])
    d = np.hypot(*(pred[lab] - person.keypoints[lab, :2]).T)
    return int((d <= thr).sum()), int(lab.sum())


@dataclass
class Comparison:
    """Float vs int8 landmark model on annotated person crops."""

    people: int
    keypoints: int
    pck_float: float
    pck_int8: float
    landmark_err_px_mean: float  # |int8 - float| over 33 body landmarks, 256 px crop
    landmark_err_px_p95: float
    visibility_agreement: float  # share of landmarks on the same side of 0.5
    pose_flag_agreement: float  # share of crops on the same side of 0.5
    pose_flag_float_mean: float
    pose_flag_int8_mean: float
    visibility_float_mean: float
    visibility_int8_mean: float

    @property
    def pck_drop_points(self) -> float:
        return 100.0 * (self.pck_float - self.pck_int8)


def compare_models(float_model, int8_model, crops: list[tuple[AnnotatedPerson, Roi, np.ndarray]]) -> Comparison:
    """Run both loaded models on every crop and compare them (and both against the ground truth)."""
    hits_f = hits_q = total = 0
    errs, vis_agree, flag_agree = [], [], []
    flags_f, flags_q, vis_f, vis_q = [], [], [], []
    for person, roi, x in crops:
        rf = run_landmarks(float_model, x)
        rq = run_landmarks(int8_model, x)
        hf, n = pck_hits(rf, roi, person)
        hq, _ = pck_hits(rq, roi, person)
        hits_f, hits_q, total = hits_f + hf, hits_q + hq, total + n
        errs.append(np.hypot(*(rq.xy - rf.xy).T))
        vis_agree.append((rq.visibility >= 0.5) == (rf.visibility >= 0.5))
        flag_agree.append((rq.pose_flag >= 0.5) == (rf.pose_flag >= 0.5))
        flags_f.append(rf.pose_flag)
        flags_q.append(rq.pose_flag)
        vis_f.append(rf.visibility.mean())
        vis_q.append(rq.visibility.mean())
    if not crops:
        raise ModelError("no annotated person crops to compare the models on")
    e = np.concatenate(errs)
    return Comparison(
        people=len(crops), keypoints=total,
        pck_float=hits_f / max(1, total), pck_int8=hits_q / max(1, total),
        landmark_err_px_mean=float(e.mean()), landmark_err_px_p95=float(np.percentile(e, 95)),
        visibility_agreement=float(np.concatenate(vis_agree).mean()),
        pose_flag_agreement=float(np.mean(flag_agree)),
        pose_flag_float_mean=float(np.mean(flags_f)), pose_flag_int8_mean=float(np.mean(flags_q)),
        visibility_float_mean=float(np.mean(vis_f)), visibility_int8_mean=float(np.mean(vis_q)),
    )


def evaluate_models(float_path: Path, int8_path: Path, data_dir: Path | None = None,
                    threads: int = 2) -> Comparison:
    """Compare the two model files on the annotated still images of ``data_dir/keypoints``."""
    from edgepose.inference import runtime

    data_dir = data_dir or default_data_dir()
    crops = person_crops(evaluation_people(data_dir))
    fm = runtime.load(float_path, threads=threads)
    qm = runtime.load(int8_path, threads=threads)
    return compare_models(fm, qm, crops)
