"""The library's modules import each other without a circle (module- or function-level)."""
import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "cgan_lib"


def _graph():
    g = {}
    for f in PKG.glob("*.py"):
        deps = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    deps.add(node.module.split(".")[0])
                else:
                    deps.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cgan_lib."):
                deps.add(node.module.split(".")[1])
        g[f.stem] = deps - {f.stem}
    return g


def test_no_import_circle():
    g = _graph()
    state = {}

    def visit(m, path):
        if state.get(m) == "done":
            return
        assert state.get(m) != "open", "import circle: " + " -> ".join(path + [m])
        state[m] = "open"
        for d in g.get(m, ()):
            visit(d, path + [m])
        state[m] = "done"

    for m in g:
        visit(m, [])
    assert "book" not in g["artifacts"]
