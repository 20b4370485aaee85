"""The code's shape, checked statically: no import cycles between edgepose's modules (function-
level imports included), no module over 700 lines, at most six modules at the top level."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "edgepose"
MAX_LINES = 700
TOP_LEVEL = {"__init__.py", "cli.py", "config.py", "errors.py", "pose.py", "skeleton.py"}


def _modules() -> dict[str, Path]:
    out = {}
    for f in PKG.rglob("*.py"):
        rel = f.relative_to(PKG.parent).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        out[".".join(parts)] = f
    return out


def _target(name: str, mods: dict[str, Path]) -> str | None:
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """module -> the edgepose modules it imports anywhere in its body (``from pkg import mod``
    counts as importing ``pkg.mod``; ``from pkg import name`` as importing ``pkg``)."""
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, f in mods.items():
        is_pkg = f.name == "__init__.py"
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"), str(f))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    pkg = m if is_pkg else m.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        pkg = pkg.rpartition(".")[0]
                    base = f"{pkg}.{base}" if base else pkg
                names = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            for n in names:
                if n == "edgepose" or n.startswith("edgepose."):
                    t = _target(n, mods)
                    if t and t != m:
                        graph[m].add(t)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    x = stack.pop()
                    on.discard(x)
                    comp.append(x)
                    if x == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles() -> None:
    graph = import_graph()
    assert "edgepose.live.runner" in graph and "edgepose.inference.engine" in graph["edgepose.live.runner"]
    found = cycles(graph)
    assert not found, "import cycles: " + "; ".join(
        " <-> ".join(c) + " (" + ", ".join(f"{a} -> {b}" for a in c for b in sorted(graph[a]) if b in c) + ")"
        for c in found)


def test_no_module_over_700_lines() -> None:
    long = {str(f.relative_to(PKG.parent)): n for f in PKG.rglob("*.py")
            if (n := len(f.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_at_most_six_top_level_modules() -> None:
    top = {f.name for f in PKG.glob("*.py")}
    assert len(top) <= 6 and top <= TOP_LEVEL, f"top-level modules: {sorted(top)}"


def test_every_public_exception_is_in_the_errors_tree() -> None:
    """Exceptions are defined in ``edgepose/errors.py`` (and re-exported where they are raised)."""
    import edgepose.errors as errors

    outside = []
    for f in PKG.rglob("*.py"):
        if f.name == "errors.py" and f.parent == PKG:
            continue
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"), str(f))):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_") and any(
                    (isinstance(b, ast.Name) and (b.id.endswith(("Error", "Exception")) or b.id in ("Exception",)))
                    for b in node.bases):
                outside.append(f"{f.relative_to(PKG.parent)}: {node.name}")
    assert not outside, f"define these in edgepose/errors.py: {outside}"
    for name in dir(errors):
        cls = getattr(errors, name)
        if isinstance(cls, type) and issubclass(cls, Exception) and cls.__module__ == errors.__name__:
            assert issubclass(cls, errors.EdgeposeError), name
            if cls not in (errors.EdgeposeError, errors.TelemetryError):
                builtin = [b for b in cls.__mro__ if b.__module__ == "builtins" and b not in (Exception, BaseException, object)]
                assert builtin, f"{name} should also inherit the builtin a caller would catch"
