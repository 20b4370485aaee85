"""Editing ``.tflite`` flatbuffers: fold fp16 constants, drop outputs and the ops that only fed
them, add a SignatureDef, remove dead buffers.

The flatbuffer is read and written with the TFLite schema module that ``ai-edge-litert`` ships
(``ai_edge_litert.schema_py_generated``); ``flatbuffers`` is the runtime it needs.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from edgepose.errors import ModelError

log = logging.getLogger(__name__)

SIGNATURE_KEY = "serving_default"

# Output tensors of pose_landmark_full.tflite, in the model's own order.
LANDMARK_OUTPUTS = ("Identity", "Identity_1", "Identity_2", "Identity_3", "Identity_4")
SEGMENTATION_OUTPUT = "Identity_2"


def schema():
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
    s = schema()
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


def op_name(model, op) -> str:
    s = schema()
    names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
    oc = model.operatorCodes[op.opcodeIndex]
    return names.get(max(oc.builtinCode, oc.deprecatedBuiltinCode), "CUSTOM")


def buffer_bytes(model, index: int) -> bytes | None:
    buf = model.buffers[index]
    if buf.data is None or len(buf.data) == 0:
        return None
    return np.asarray(buf.data, dtype=np.uint8).tobytes()


def fold_fp16_constants(model) -> int:
    """Replace each ``DEQUANTIZE(fp16 constant)`` by a float32 constant; return how many.

    The fp16 tensors and their buffers become unused; :func:`prune` removes them.
    """
    s = schema()
    folded = 0
    for g in model.subgraphs:
        keep = []
        for op in g.operators:
            if op_name(model, op) == "DEQUANTIZE" and len(op.inputs) == 1:
                src = g.tensors[op.inputs[0]]
                raw = buffer_bytes(model, src.buffer) if src.type == s.TensorType.FLOAT16 else None
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


def tensor_names(g) -> list[str]:
    return [t.name.decode() if isinstance(t.name, bytes) else str(t.name) for t in g.tensors]


def keep_outputs(model, names: Iterable[str]) -> list[str]:
    """Keep only the graph outputs named in ``names`` (their model order is kept)."""
    g = model.subgraphs[0]
    tn = tensor_names(g)
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
    s = schema()
    g = model.subgraphs[0]
    tn = tensor_names(g)

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
    tn = tensor_names(g)
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
    data = Path(float_path).read_bytes()
    try:
        model = read_model(data)
    except ModelError as e:
        raise ModelError(f"{float_path}: {e}; re-fetch it with `edgepose models fetch`") from None
    before = len(model.subgraphs[0].operators)
    names = [n for n in output_names(model) if n != SEGMENTATION_OUTPUT]
    keep_outputs(model, names)
    prune(model)
    out_path = Path(out_path)
    out_path.write_bytes(write_model(model))
    out_path.with_name(out_path.name + ".sha256").write_text(
        f"{hashlib.sha256(out_path.read_bytes()).hexdigest()}  {out_path.name}\n")
    return before, len(model.subgraphs[0].operators)


def output_names(model) -> list[str]:
    g = model.subgraphs[0]
    tn = tensor_names(g)
    return [tn[i] for i in g.outputs]


def restore_output_names(model, names: list[str]) -> None:
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
