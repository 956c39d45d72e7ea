"""The package's shape holds: data flows one way (no import cycle between ganlab's modules, counting the
imports inside functions too), and nothing below ganlab/ui imports gradio (the core runs without a UI), and the
code has one format (ruff, checked here so that the README's test command checks it)."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ganlab"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports_of(path: Path) -> set[str]:
    """Every module this file imports, anywhere in it: ``from ganlab.x import y`` counts as ganlab.x.y when
    that is a module of the package (a submodule), else as ganlab.x."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
    return found


def package_graph() -> dict[str, set[str]]:
    return {name: {other for other in imports_of(path) if other in MODULES and other != name} for name, path in MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_package_has_no_import_cycle():
    graph = package_graph()
    assert len(graph) > 40  # the walk found the package
    assert cycles(graph) == []


def test_the_cycle_check_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_only_the_ui_imports_gradio():
    offenders = [
        module_name(path)
        for path in PACKAGE.rglob("*.py")
        if not module_name(path).startswith("ganlab.ui")
        and any(name == "gradio" or name.startswith("gradio.") or name == "gradio_client" for name in imports_of(path))
    ]
    assert offenders == []


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, "ganlab", "tests", "bench", "scripts", "app.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_the_code_has_one_format():
    # One formatting style for the whole project (ruff format, settings in pyproject.toml).
    result = _ruff("format", "--check")
    assert result.returncode == 0, "run `ruff format ganlab tests bench scripts app.py`:\n" + result.stdout + result.stderr


def test_the_linter_passes():
    result = _ruff("check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_test_files_have_unique_names():
    # tests/ and tests/ui/ are not packages: pytest imports each test file by its bare name, so two files
    # with one name make the whole run fail at collection.
    names = [path.name for path in (ROOT / "tests").rglob("test_*.py")]
    assert len(names) > 40
    assert sorted(name for name in set(names) if names.count(name) > 1) == []
