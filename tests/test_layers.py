"""The layers show in the imports: core <- engine <- front ends (CLI, benchmark, web UI), no import circles,
and nothing but ``finetune/__main__.py`` imports the CLI."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO

LAYERS = {"core": 0, "engine": 1, "cli": 2, "bench": 2, "__main__": 2, "webui": 2, "app": 2}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    paths = [*(REPO / "finetune").rglob("*.py"), *(REPO / "webui").rglob("*.py"), REPO / "app.py"]
    return {module_name(p): p for p in paths if "__pycache__" not in p.parts}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `name` imports, at module level or inside functions, resolved to module names."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m in known and m != name}


def layer(name: str) -> int:
    parts = name.split(".")
    key = parts[1] if parts[0] == "finetune" and len(parts) > 1 else parts[0]
    return LAYERS.get(key, 0 if parts[0] == "finetune" else 2)


def test_each_layer_imports_only_the_layers_below_and_nobody_imports_the_cli():
    known = modules()
    graph = {name: imports_of(name, path, set(known)) for name, path in known.items()}
    assert graph["finetune.engine.train"] >= {"finetune.core.checkpoints", "finetune.engine.config"}  # it parses
    for name, targets in graph.items():
        for target in targets:
            if target == "finetune.cli":
                assert name == "finetune.__main__", f"{name} imports the CLI"
            if name.startswith("finetune.core") or name.startswith("finetune.engine"):
                assert layer(target) <= layer(name), f"{name} (layer {layer(name)}) imports {target}"
            if name.startswith("webui") or name == "app":
                assert not target.startswith(("finetune.cli", "finetune.bench")), f"{name} imports {target}"


def test_no_import_circles():
    known = modules()
    graph = {name: imports_of(name, path, set(known)) for name, path in known.items()}
    # A package's __init__ importing its own submodules is how packages work; circles among modules are not.
    edges = {n: {t for t in ts if not n.startswith(t + ".") and not t.startswith(n + ".")} for n, ts in graph.items()}
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            raise AssertionError("import circle: " + " -> ".join([*path[path.index(node) :], node]))
        if node in done:
            return
        for target in sorted(edges[node]):
            visit(target, [*path, node])
        done.add(node)

    for name in sorted(edges):
        visit(name, [])


# Imports every project module in a process of its own, forked from one that has imported only the third-party
# libraries: what is checked is that no module of ours needs another of ours imported first, and torch,
# transformers and gradio once instead of once a module is ~150 s less of CI.
FORK_EACH_IMPORT = r"""
import importlib, json, os, sys, traceback
for library in ("torch", "transformers", "peft", "datasets", "sklearn", "gradio", "gradio_client"):
    importlib.import_module(library)
failures = {}
for name in json.loads(sys.argv[1]):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            importlib.import_module(name)
            code = 0
        except BaseException:
            os.write(write, traceback.format_exc()[-500:].encode())
            code = 1
        os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        error = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    if status != 0:
        failures[name] = error or f"exit status {status}"
print(json.dumps(failures))
"""


@pytest.mark.slow
def test_every_module_imports_on_its_own():
    names = sorted(n for n in modules() if not n.endswith("__main__"))
    result = subprocess.run(
        [sys.executable, "-c", FORK_EACH_IMPORT, json.dumps(names)], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {}
