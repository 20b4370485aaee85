"""Build a static-INT8 BlazePose landmark model from MediaPipe's float one.

MediaPipe ships ``pose_landmark_full.tflite`` with its weights stored as float16 constants, each
followed by a ``DEQUANTIZE`` op, and without a SignatureDef. ``ai-edge-quantizer`` wants a plain
float32 model with a signature, so :func:`build_int8`

1. folds every fp16 constant into a float32 buffer and removes its ``DEQUANTIZE`` op
   (:func:`edgepose.inference.flatbuffer.fold_fp16_constants`),
2. optionally drops outputs the engine does not use and the ops that only fed them,
3. adds a ``serving_default`` SignatureDef (:func:`add_signature`),
4. calibrates the activations on real person crops (:func:`edgepose.inference.calibration.calibration_crops`) and quantizes
   weights and activations to int8 with ``ai-edge-quantizer``, keeping the layers named in
   ``float_layers`` in float, and
5. removes the buffers nothing refers to any more (:func:`drop_dead_buffers`), so the file really
   is smaller.

The person detector (CenterNet) gets the same treatment in :func:`build_person_int8`, calibrated on
whole letterboxed frames, with its own float layers (:data:`PERSON_FLOAT_LAYERS`).

The flatbuffer is read and written with the TFLite schema module that ``ai-edge-litert`` ships
(``ai_edge_litert.schema_py_generated``); ``flatbuffers`` is the runtime it needs.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgepose.errors import ModelError
from edgepose.inference import calibration
from edgepose.inference.calibration import LANDMARK_INPUT, calibration_crops, default_data_dir
from edgepose.inference.flatbuffer import (
    LANDMARK_OUTPUTS,
    SEGMENTATION_OUTPUT,
    SIGNATURE_KEY,
    buffer_bytes,
    drop_dead_buffers,
    op_name,
    prepare_float,
    prune,
    read_model,
    restore_output_names,
    schema,
    tensor_names,
    write_model,
)
from edgepose.inference.landmark_eval import Comparison, evaluate_models

__all__ = ["LANDMARK_OUTPUTS", "SEGMENTATION_OUTPUT", "SIGNATURE_KEY", "DEFAULT_FLOAT_LAYERS", "QuantizeReport",
           "PERSON_FLOAT_LAYERS", "PersonQuantizeReport", "build_person_int8", "install_person_int8",
           "build_int8", "quantize_static_int8", "correct_head_biases", "float_boundaries"]

log = logging.getLogger(__name__)

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
    s = schema()
    model = read_model(data)
    g = model.subgraphs[0]
    total = q = 0
    for op in g.operators:
        name = op_name(model, op)
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
    in_name = tensor_names(model.subgraphs[0])[model.subgraphs[0].inputs[0]]
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

    s = schema()
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
    tn = tensor_names(g)
    done: dict[str, float] = {}
    for op in g.operators:
        if op_name(model, op) != "CONV_2D" or len(op.inputs) < 3:
            continue
        out_name = tn[op.outputs[0]]
        head = next((v for k, v in _HEAD_BIASES.items() if out_name.startswith(k)), None)
        if head is None or not diffs[head]:
            continue
        bias = g.tensors[op.inputs[2]]
        raw = buffer_bytes(model, bias.buffer)
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
            if len(ops) == 1 and op_name(model, ops[0]) == "DEQUANTIZE":
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
            if op is not None and op_name(model, op) == "QUANTIZE" and \
                    g.tensors[int(op.inputs[0])].type == schema().TensorType.FLOAT32 and \
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


def _quantize_keeping_float_edges(folded: bytes, calibration: list[np.ndarray], outputs: list[str],
                                  float_layers: tuple[str, ...], say: Progress, float_weights: str,
                                  notes: list[str]) -> tuple[object, bytes]:
    """The steps both builds share: ai-edge-quantizer's static int8 of the folded float model, the
    float model's output names put back, and the int8 round trips removed where a graph input or
    output is computed in float (said in ``notes``). Returns the model and bytes that hold it."""
    qbytes = quantize_static_int8(folded, calibration, float_layers, say, float_weights=float_weights)
    model = read_model(qbytes)
    restore_output_names(model, outputs)
    edges = float_boundaries(model)
    if edges:
        prune(model)
        notes.append(f"{edges} graph inputs/outputs computed in float stay float (no int8 round trip)")
        qbytes = write_model(model)
        model = read_model(qbytes)
    return model, qbytes


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``path`` (mode 0644) through a ``.part`` file beside it: never a half-written model."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".part", dir=path.parent)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


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
    model, qbytes = _quantize_keeping_float_edges(folded, calibration, outputs, float_layers, say, float_weights,
                                                  notes)
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
    _write_atomically(out_path, qbytes)
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
# the person detector (CenterNet, issue 13)

PERSON_INPUT = 512
# Kept in float (regexes over op scopes, as DEFAULT_FLOAT_LAYERS). Measured on the shared images
# (docs/benchmarks.md, "INT8 person detector"), person recall at IoU >= 0.5, float16 0.872:
# * CenterNet's two output heads and what follows them inside the graph -- the sigmoid, the 3x3
#   max-pool "is a peak" test, the top 100, the gather and the box arithmetic: with int8 scores,
#   neighbouring cells of one person tie after rounding and all pass the peak test.
PERSON_HEAD_LAYERS = (r"^tower_0/(CenternetHead/centernet_(cls|wh)_output/|Sigmoid|max_pooling2d/|Equal|Cast"
                      r"|mul|Reshape|TopKV2|ExpandDims|floordiv|mod|BatchGather/|strided_slice|sub|add_|detections)")
# * the squeeze-excite branches (1x1 tensors): with only the heads in float recall is 0.015. One
#   SE branch's ReLU is all zero on real frames, so its calibrated input range is empty, the next
#   conv's int8 bias (scale = input scale x weight scale) cannot hold its float bias, and the
#   branch multiplies its block's output by 0 instead of ~0.7-0.9;
PERSON_SE_LAYERS = r"/squeeze_excite/(Mean|Conv)"
# * the first two MobileNetV3 blocks (the stem sees raw 0-255 pixels) and the CenterNet neck
#   (upsampling and lateral convs): with SE and heads float recall is 0.842 (32 frames) / 0.827
#   (64), adding these 0.842 with no false box on the Bonn frames and boxes closer to float's.
PERSON_STEM_LAYERS = r"^tower_0/MobilenetV3/(Conv|expanded_conv)/"
PERSON_NECK_LAYERS = r"^tower_0/CenternetHead/"
PERSON_FLOAT_LAYERS: tuple[str, ...] = (PERSON_HEAD_LAYERS, PERSON_SE_LAYERS, PERSON_STEM_LAYERS, PERSON_NECK_LAYERS)


@dataclass
class PersonQuantizeReport:
    """What :func:`build_person_int8` did."""

    float_path: Path
    out_path: Path
    float_bytes: int
    int8_bytes: int
    ops_total: int
    ops_quantized: int
    calibration_samples: int
    seconds: float
    sha256: str = ""
    notes: list[str] = field(default_factory=list)

    def text(self) -> str:
        lines = [f"float model   {self.float_path} ({self.float_bytes / 1e6:.2f} MB)",
                 f"int8 model    {self.out_path} ({self.int8_bytes / 1e6:.2f} MB)",
                 f"ops           {self.ops_quantized} of {self.ops_total} run in int8",
                 f"calibration   {self.calibration_samples} real letterboxed frames",
                 f"sha256        {self.sha256}",
                 f"time          {self.seconds:.1f} s"]
        return "\n".join(lines + [f"note          {n}" for n in self.notes])


def build_person_int8(float_path: Path, out_path: Path, frames: list[np.ndarray],
                      float_layers: Iterable[str] = PERSON_FLOAT_LAYERS, progress: Progress | None = None,
                      float_weights: str = "fp16") -> PersonQuantizeReport:
    """Static int8 CenterNet person detector from the converted float16 one.

    The same steps as the landmark build (fp16 constants folded, a signature, ai-edge-quantizer's
    static int8 calibrated on ``frames``, the int8 round trips at float graph edges removed, dead
    buffers dropped), with ``float_layers`` (default: the heads and the in-graph peak finding) in
    float. ``frames``: real letterboxed 512x512x3 RGB frames, 0-255
    (:func:`edgepose.inference.calibration.detector_calibration_frames`). Deterministic for the
    same inputs and tool versions, so its checksum can be pinned. Writes ``out_path`` atomically.
    """
    from edgepose.inference.models import sha256_of

    t0 = time.monotonic()
    say = progress or (lambda m: log.info("%s", m))
    float_path, out_path = Path(float_path), Path(out_path)
    if not float_path.is_file():
        raise ModelError(f"float model {float_path} does not exist; run `edgepose models fetch person-detector` first")
    if not frames:
        raise ModelError("no calibration frames: static int8 needs real images")
    for i, f in enumerate(frames):
        if f.shape[-3:] != (PERSON_INPUT, PERSON_INPUT, 3):
            raise ModelError(f"calibration frame {i} has shape {f.shape}; it must be 512x512x3 RGB 0-255")
    data = float_path.read_bytes()
    try:
        folded, outputs, notes = prepare_float(data)
    except ModelError as e:
        raise ModelError(f"{float_path}: {e}; re-fetch it with `edgepose models fetch person-detector`") from None
    float_layers = tuple(float_layers)
    model, _ = _quantize_keeping_float_edges(folded, frames, outputs, float_layers, say, float_weights, notes)
    dead = drop_dead_buffers(model)
    if dead:
        notes.append(f"dropped {dead} dead buffers after quantization")
    qbytes = write_model(model)
    total, nq = _count_ops(qbytes)
    _write_atomically(out_path, qbytes)
    return PersonQuantizeReport(float_path, out_path, len(data), len(qbytes), total, nq, len(frames),
                                time.monotonic() - t0, sha256_of(out_path), notes)


def install_person_int8(data_dir: Path, directory: Path | None = None, frames: int = 64) -> str:
    """Build ``person_detector_int8`` from the verified float16 person detector, calibrated on the
    real frames of ``data_dir`` (:func:`edgepose.inference.calibration.detector_calibration_frames`),
    and keep it only if its sha256 is the one the manifest pins.

    The build is deterministic for the same calibration files and tool versions (ai-edge-quantizer,
    LiteRT, OpenCV's decoder), which is what makes the pin possible. Other data or other versions
    give other bytes: the file is then refused (not kept), as a converted model would be, and the
    message says where to build it. Returns ``"present"`` or ``"built"``.
    """
    from edgepose.errors import ModelMissing
    from edgepose.inference.models import load_manifest, models_dir, verified_path

    entries, _ = load_manifest()
    e = entries["person_detector_int8"]
    directory = directory or models_dir()
    try:
        verified_path(e.name, directory)
        return "present"
    except ModelMissing:
        pass
    except ModelError as err:
        log.warning("%s", err)
    base = verified_path("person_detector", directory)
    shots = calibration.detector_calibration_frames(Path(data_dir), frames)
    part = directory / (e.file + ".part")
    rep = build_person_int8(base, part, shots, progress=lambda m: log.info("%s", m))
    if rep.sha256 != e.sha256:
        part.unlink(missing_ok=True)
        raise ModelError(
            f"the int8 person detector built here has sha256 {rep.sha256[:12]}…, the manifest pins "
            f"{e.sha256[:12]}…: other calibration files ({len(shots)} frames from {data_dir}) or other tool "
            "versions; build it from the shared data on an x86-64 machine with the pinned environment and "
            f"copy {e.file} here (the float16 detector keeps working meanwhile)")
    os.replace(part, directory / e.file)
    return "built"
