"""Load ``.tflite`` models with LiteRT (``ai_edge_litert``), falling back to ``tflite_runtime``.

The runtime does not validate a flatbuffer: a truncated file can crash the process or silently
mis-predict. Callers therefore verify checksums (:mod:`edgepose.inference.models`) before they
get here, and :func:`load` checks the tensor shapes it was promised.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgepose.errors import DelegateError, ModelError, RuntimeMissing

log = logging.getLogger(__name__)

_EDGETPU_LIBS = ("libedgetpu.so.1", "libedgetpu.so.1.0")


def runtime_info() -> tuple[str, str]:
    """``(module name, version)`` of the interpreter package that will be used."""
    try:
        import ai_edge_litert  # noqa: F401
        from ai_edge_litert import interpreter  # noqa: F401

        ver = getattr(ai_edge_litert, "__version__", None)
        if ver is None:
            from importlib.metadata import version

            ver = version("ai-edge-litert")
        return "ai_edge_litert", ver
    except ImportError:
        pass
    try:
        import tflite_runtime

        return "tflite_runtime", getattr(tflite_runtime, "__version__", "?")
    except ImportError:
        raise RuntimeMissing(
            "no TFLite runtime: install ai-edge-litert (`pip install ai-edge-litert`), or tflite-runtime "
            "where only that is available"
        ) from None


def _interpreter_module() -> Any:
    name, _ = runtime_info()
    if name == "ai_edge_litert":
        from ai_edge_litert import interpreter as mod
    else:
        from tflite_runtime import interpreter as mod  # type: ignore[no-redef]
    return mod


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    dtype: type
    index: int
    scale: float = 0.0
    zero_point: int = 0


class Model:
    """A loaded interpreter with its input and output specs.

    Use :meth:`run` with float inputs; int8/uint8 models are (de)quantised here, so decoders see
    the same float tensors whatever the model's storage type.
    """

    def __init__(self, path: Path, interpreter: Any, delegate: str):
        self.path = path
        self.delegate = delegate
        self._it = interpreter
        self.inputs = [self._spec(d) for d in interpreter.get_input_details()]
        self.outputs = [self._spec(d) for d in interpreter.get_output_details()]

    @staticmethod
    def _spec(d: dict) -> TensorSpec:
        q = d.get("quantization") or (0.0, 0)
        return TensorSpec(d["name"], tuple(int(x) for x in d["shape"]), d["dtype"], d["index"],
                          float(q[0]), int(q[1]))

    def run(self, *inputs: np.ndarray) -> list[np.ndarray]:
        for spec, x in zip(self.inputs, inputs, strict=True):
            if spec.dtype in (np.int8, np.uint8) and spec.scale > 0:
                info = np.iinfo(spec.dtype)
                x = np.clip(np.round(x / spec.scale + spec.zero_point), info.min, info.max).astype(spec.dtype)
            self._it.set_tensor(spec.index, x)
        self._it.invoke()
        outs = []
        for spec in self.outputs:
            y = self._it.get_tensor(spec.index)
            if spec.dtype in (np.int8, np.uint8) and spec.scale > 0:
                y = (y.astype(np.float32) - spec.zero_point) * spec.scale
            outs.append(y)
        return outs


def _delegates(delegate: str | None) -> tuple[list[Any], str]:
    if delegate in (None, "", "xnnpack", "cpu"):
        return [], "xnnpack"
    mod = _interpreter_module()
    if delegate == "edgetpu":
        last: Exception | None = None
        for lib in _EDGETPU_LIBS:
            try:
                return [mod.load_delegate(lib)], "edgetpu"
            except (ValueError, OSError) as e:
                last = e
        raise DelegateError(
            f"Edge TPU delegate could not be loaded ({last}); install libedgetpu1-std and plug in the "
            "accelerator, or set model.delegate = \"xnnpack\""
        )
    path = Path(delegate)
    if not path.exists():
        raise DelegateError(f"delegate library {delegate} does not exist; give the path of a .so, or use xnnpack")
    try:
        return [mod.load_delegate(str(path))], str(path)
    except (ValueError, OSError) as e:
        raise DelegateError(f"delegate {delegate} did not load: {e}") from e


def load(path: str | os.PathLike, threads: int = 2, delegate: str | None = None,
         expect_inputs: list[tuple[int, ...]] | None = None,
         expect_outputs: list[tuple[int, ...]] | None = None) -> Model:
    """Load a model and check its tensor shapes.

    Raises
    ------
    ModelError
        The file is not a loadable TFLite model, or its tensors are not the ones promised.
    DelegateError
        The requested delegate could not be loaded.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model {path} does not exist; run `edgepose models fetch`")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if len(head) < 8 or head[4:8] != b"TFL3":
        raise ModelError(f"{path} is not a TFLite model (no TFL3 identifier); re-fetch it with `edgepose models fetch`")
    mod = _interpreter_module()
    delegates, used = _delegates(delegate)
    try:
        it = mod.Interpreter(model_path=str(path), num_threads=max(1, int(threads)),
                             experimental_delegates=delegates or None)
        it.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        raise ModelError(f"{path} did not load as a TFLite model: {e}") from e
    model = Model(path, it, used)
    for kind, want, got in (("input", expect_inputs, model.inputs), ("output", expect_outputs, model.outputs)):
        if want is None:
            continue
        shapes = [s.shape for s in got]
        if len(shapes) < len(want) or any(tuple(w) != s for w, s in zip(want, shapes, strict=False)):
            raise ModelError(
                f"{path} has {kind} shapes {shapes}, but this decoder needs {[tuple(w) for w in want]}: "
                "it is not the model for this decoder"
            )
    log.info("loaded %s (%s, %d threads)", path.name, used, threads)
    return model
