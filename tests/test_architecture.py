"""The library's shape (issue "one home for each thing"): no import cycle among its modules,
counting imports inside functions (the layers themselves are checked by `lint-imports`, see
pyproject.toml); no module over 400 lines; models never import what stands above them."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "musicgen_lib"
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set:
    """The package's modules that ``path`` imports anywhere in it (also inside functions)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:  # `from . import x` may import the module x
                sub = f"{target}.{alias.name}"
                found.add(sub if _exists(sub) else target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m.split(".")[0] == "musicgen_lib" and _exists(m)}


def _exists(module: str) -> bool:
    path = PACKAGE.parent.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _graph() -> dict:
    return {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def cycles(graph: dict) -> list:
    """The strongly connected components of more than one module (Tarjan), or self-imports."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v), on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_the_library():
    graph = _graph()
    assert len(graph) > 40 and "musicgen_lib.models.registry" in graph["musicgen_lib.train"]
    assert cycles(graph) == []


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_no_module_over_400_lines(path):
    assert len(path.read_text().splitlines()) <= MAX_LINES, f"{path.name}: split it by idea"


def test_models_import_only_data_and_the_bottom_layers():
    below = ("musicgen_lib.models", "musicgen_lib.data", "musicgen_lib.errors",
             "musicgen_lib.configs", "musicgen_lib.files")
    for module, imported in _graph().items():
        if module.startswith("musicgen_lib.models"):
            assert all(m.startswith(below) for m in imported), (module, imported)


def _notebook_imports() -> dict:
    """{(module, name): {notebook stems}} of the library's functions and classes that the
    notebooks import."""
    import importlib
    import inspect
    import json

    uses = {}
    for nb in sorted((PACKAGE.parent / "notebooks").glob("*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            src = "\n".join(line for line in "".join(cell["source"]).splitlines()
                            if not line.startswith(("%", "!")))
            for node in ast.walk(ast.parse(src)):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("musicgen_lib"):
                    module = importlib.import_module(node.module)
                    for alias in node.names:
                        obj = getattr(module, alias.name, None)
                        if inspect.isfunction(obj) or inspect.isclass(obj):
                            uses.setdefault(obj, set()).add(nb.stem)
    return uses


def test_a_function_a_notebook_calls_names_that_notebook():
    """As in libfmp: its docstring says "Notebook: 08_training_and_samples" (or "notebook
    08", or "every chapter")."""
    import inspect

    missing = []
    for obj, stems in _notebook_imports().items():
        doc = inspect.getdoc(obj) or ""
        for stem in sorted(stems):
            if not (stem in doc or f"otebook {stem[:2]}" in doc or "every chapter" in doc
                    or f"{int(stem[:2]) - 1:02d}–{stem[:2]}" in doc):
                missing.append(f"{obj.__module__}.{obj.__qualname__}: {stem}")
    assert not missing, "\n".join(missing)
