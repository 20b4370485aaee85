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

# Layers kept in float by default (regexes over an op's output tensor name). Empty = everything
# int8; see docs/benchmarks.md "INT8 landmark model" for the measured effect of each choice.
DEFAULT_FLOAT_LAYERS: tuple[str, ...] = ()

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
        return "\n".join(lines)


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
    return s.ModelT.InitFromObj(s.Model.GetRootAsModel(bytearray(data), 0))


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
                         progress: Progress | None = None) -> bytes:
    """Static int8 (weights per channel, activations per tensor) with ``ai-edge-quantizer``."""
    quantizer, recipe, qtyping = _quantizer_modules()
    say = progress or (lambda _m: None)
    q = quantizer.Quantizer(bytearray(float32_model), recipe.static_wi8_ai8())
    for pattern in float_layers:
        q.update_quantization_recipe(regex=pattern, operation_name=qtyping.TFLOperationName.ALL_SUPPORTED,
                                     algorithm_key=quantizer.AlgorithmName.NO_QUANTIZE)
    model = read_model(float32_model)
    in_name = _tensor_names(model.subgraphs[0])[model.subgraphs[0].inputs[0]]
    samples = [{in_name: np.ascontiguousarray(c[None] if c.ndim == 3 else c, dtype=np.float32)}
               for c in calibration]
    say(f"calibrating on {len(samples)} crops")
    qsv = q.calibrate({SIGNATURE_KEY: samples}, num_threads=max(1, os.cpu_count() or 1))
    say("quantizing")
    result = q.quantize(qsv, enable_progress_report=False)
    return bytes(result.quantized_model)


def build_int8(float_path: Path, out_path: Path, calibration: list[np.ndarray] | None = None,
               progress: Progress | None = None, *, drop_segmentation: bool = False,
               float_layers: Iterable[str] = DEFAULT_FLOAT_LAYERS,
               data_dir: Path | None = None) -> QuantizeReport:
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
        Remove the segmentation output (``Identity_2``) and the decoder that computes it. The
        remaining outputs keep their relative order (see :attr:`QuantizeReport.outputs`).
    float_layers
        Regexes over op output tensor names that stay in float.
    """
    from edgepose.inference.models import sha256_of

    t0 = time.monotonic()
    say = progress or (lambda m: log.info("%s", m))
    float_path, out_path = Path(float_path), Path(out_path)
    if not float_path.is_file():
        raise ModelError(f"float model {float_path} does not exist; run `edgepose models fetch` first")
    data = float_path.read_bytes()
    say(f"folding fp16 constants of {float_path.name}")
    folded, outputs, notes = prepare_float(data, drop_segmentation=drop_segmentation)
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
    qbytes = quantize_static_int8(folded, calibration, float_layers, say)
    model = read_model(qbytes)
    dead = drop_dead_buffers(model)
    if dead:
        notes.append(f"dropped {dead} dead buffers after quantization")
    qbytes = write_model(model)
    if float_layers:
        notes.append("kept in float: " + ", ".join(float_layers))
    total, nq = _count_ops(qbytes)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=out_path.name, suffix=".part", dir=out_path.parent)
    with os.fdopen(fd, "wb") as fh:
        fh.write(qbytes)
    os.replace(tmp, out_path)
    digest = sha256_of(out_path)
    out_path.with_name(out_path.name + ".sha256").write_text(f"{digest}  {out_path.name}\n")
    return QuantizeReport(
        float_path=float_path, out_path=out_path, float_bytes=len(data), folded_bytes=len(folded),
        int8_bytes=len(qbytes), ops_total=total, ops_quantized=nq, ops_float=total - nq,
        calibration_samples=len(calibration), seconds=time.monotonic() - t0, outputs=outputs,
        sha256=digest, notes=notes,
    )


# --------------------------------------------------------------------------------------------
# calibration data


def default_data_dir() -> Path:
    """``../shared/data`` next to the source checkout."""
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
