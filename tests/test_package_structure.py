"""The package's shape: imports flow one way between subpackages, no private name crosses a
subpackage, and no module grows past 400 lines."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "keras_wsal"
MAX_LINES = 400


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = name if parts[-1] == "__init__" else name.rpartition(".")[0]
        yield path, name, package


def _imports(path, package):
    """(imported module, imported names) of every import in the file, relative ones resolved."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            module = ".".join(base + [node.module]) if node.level else node.module
            yield module or ".".join(base), [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []


def _subpackage(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _is_private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _edges():
    edges = {}
    for path, name, package in _modules():
        for module, names in _imports(path, package):
            if module.split(".")[0] != "keras_wsal":
                continue
            source, target = _subpackage(name), _subpackage(module)
            if source != target and target:
                edges.setdefault(source, {}).setdefault(target, []).append(
                    (str(path.relative_to(PACKAGE)), module, names)
                )
    return edges


def test_no_import_cycle_between_subpackages():
    edges = _edges()
    state = {}

    def visit(node, trail):
        state[node] = "open"
        for target in edges.get(node, {}):
            if state.get(target) == "open":
                cycle = trail[trail.index(target) :] + [target]
                example = edges[node][target][0]
                raise AssertionError(f"import cycle {' -> '.join(cycle)} (e.g. {example})")
            if target not in state:
                visit(target, trail + [target])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])


def test_no_private_name_is_imported_across_subpackages():
    crossing = []
    for targets in _edges().values():
        for imports in targets.values():
            for path, module, names in imports:
                parts = module.split(".")[1:]
                if any(map(_is_private, parts)) or any(map(_is_private, names)):
                    crossing.append(f"{path}: {module} {names}")
    assert not crossing, "private names imported across subpackages:\n" + "\n".join(crossing)


def test_no_module_is_longer_than_400_lines():
    long = {
        str(path.relative_to(PACKAGE)): count
        for path, _, _ in _modules()
        if (count := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_the_walk_sees_the_package():
    # The checks above are vacuous if the walk finds nothing: it must see the known edges.
    edges = _edges()
    assert "losses" in edges["models"] and "models" not in edges.get("losses", {})
    assert "formats" in edges["evaluation"] and "formats" in edges["datasets"]
