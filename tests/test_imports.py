"""Architecture rules: aeviz/ imports streamlit only in its one bridge module; the core needs no UI libs."""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "aeviz"
BRIDGE = PACKAGE / "ui"  # the one bridge: a small package of Streamlit-facing modules
PAGES = Path(__file__).resolve().parent.parent / "pages"


@functools.cache
def parsed(path: Path) -> ast.Module:
    """Each module's tree, parsed once for all the walks here (only read, never changed)."""
    return ast.parse(path.read_text())


def imported_modules(path: Path) -> set[str]:
    tree = parsed(path)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_only_the_bridge_imports_streamlit():
    modules = list(PACKAGE.rglob("*.py"))
    offenders = [p.name for p in modules if BRIDGE not in p.parents and "streamlit" in imported_modules(p)]
    assert offenders == []
    assert any(BRIDGE in p.parents for p in modules) and len(modules) > 20  # the walk really saw the package


def test_pages_import_no_torch():
    offenders = [p.name for p in PAGES.glob("*.py") if "torch" in imported_modules(p)]
    assert offenders == []


@pytest.mark.slow  # a fresh interpreter importing torch: ~3 s of CPU (the static walks here stay in the fast loop)
def test_core_imports_without_ui_libraries():
    """`import aeviz` must not pull in streamlit, plotly or umap (the GPU machine has none of them)."""
    code = (
        "import sys, aeviz, aeviz.cli.main, aeviz.metrics; "
        "bad = [m for m in ('streamlit', 'plotly', 'umap') if m in sys.modules]; print(bad); "
        "sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PACKAGE.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- layers: core (aeviz/*.py) <- views (aeviz/views) <- ui (aeviz/ui) <- pages ---------------------------------

REPO = PACKAGE.parent
RANK = {"core": 0, "views": 1, "ui": 2, "pages": 3}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in [*PACKAGE.rglob("*.py"), *PAGES.glob("*.py")]}


def layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] == "pages":
        return "pages"
    return parts[1] if len(parts) > 1 and parts[1] in ("views", "ui") else "core"


def project_imports(path: Path) -> set[str]:
    """The project's modules that `path` imports anywhere in it (lazy imports inside functions too)."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found = set()
    for node in ast.walk(parsed(path)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names}
    return {m for m in found if m in MODULES and m != me}


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_each_layer_imports_only_the_layers_below_it():
    """The core knows no page back-end and no Streamlit; a view knows no widget; the ui knows no page."""
    upward = [(m, t) for m, p in MODULES.items() for t in project_imports(p) if RANK[layer(t)] > RANK[layer(m)]]
    assert upward == []
    assert {layer(m) for m in MODULES} == set(RANK)  # the walk saw every layer


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_no_module_imports_one_that_imports_it_back():
    """A package's __init__ only re-exports, so edges into a package are left out (`from . import __version__`)."""
    packages = {m for m, p in MODULES.items() if p.name == "__init__.py"}
    graph = {m: project_imports(p) - packages for m, p in MODULES.items()}

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph[todo.pop()] - seen:
                if nxt == goal:
                    return True
                seen.add(nxt)
                todo.append(nxt)
        return False

    cycles = sorted({tuple(sorted((m, t))) for m in graph for t in graph[m] if reaches(t, m)})
    assert cycles == []


# --- declared dependencies: what the app imports is what pyproject.toml promises ---------------------------------

# Import names whose distribution is named differently (used when the distribution is not installed here).
DISTRIBUTIONS = {
    "PIL": "pillow",
    "sklearn": "scikit-learn",
    "umap": "umap-learn",
    "yaml": "pyyaml",
    "streamlit_drawable_canvas": "streamlit-drawable-canvas",
}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared_distributions(extras: bool = False) -> set[str]:
    """[project] dependencies; with `extras`, the optional groups a user installs (aeviz[pythae]), not test's."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: tomllib is stdlib from 3.11
        tomllib = pytest.importorskip("tomli")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    groups = project.get("optional-dependencies", {})
    reqs = [r for name, rs in groups.items() if name != "test" for r in rs] if extras else project["dependencies"]
    return {_normal(re.match(r"[A-Za-z0-9._-]+", req).group()) for req in reqs}


def eager_modules(path: Path) -> set[str]:
    """The top-level modules `path` imports outside any function: what importing the module itself needs."""
    names: set[str] = set()
    todo = list(parsed(path).body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))
    return names


def distribution_of(module: str, installed: dict[str, list[str]]) -> str:
    found = installed.get(module, [])
    return _normal(found[0] if found else DISTRIBUTIONS.get(module, module))


# an extra's own modules (aeviz[cluster]): imported lazily
OPTIONAL_MODULES = {PACKAGE / "jobs" / "cluster.py", PACKAGE / "jobs" / "raytasks.py"}


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_an_extras_own_module_is_imported_only_inside_functions():
    """aeviz.jobs.cluster and .raytasks import Ray at their top: they are imported (by other modules than each
    other) only where AEVIZ_RAY_ADDRESS asks for them."""
    sources = [p for p in [*PACKAGE.rglob("*.py"), *PAGES.glob("*.py"), REPO / "app.py"] if p not in OPTIONAL_MODULES]
    optional = tuple(p.stem for p in OPTIONAL_MODULES)
    found = []
    for path in sources:
        todo = list(ast.parse(path.read_text()).body)
        while todo:
            node = todo.pop()
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith(optional):
                found.append(path.name)
            elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                todo.extend(ast.iter_child_nodes(node))
    assert found == []


@pytest.mark.slow  # over half a second a call (benchmarks/fastloop.py)
def test_every_third_party_import_is_a_declared_dependency():
    """aeviz/, pages/ and app.py (lazy imports inside functions too): each third-party top-level module they
    import comes from a distribution listed in [project] dependencies, so `pip install .` runs the app; or
    from an optional group (aeviz[pythae]), and then only inside functions, so the app runs without it."""
    sources = [*PACKAGE.rglob("*.py"), *PAGES.glob("*.py"), REPO / "app.py"]
    third_party = {m for p in sources for m in imported_modules(p)} - set(sys.stdlib_module_names) - {"aeviz"}
    eager = {m for p in sources if p not in OPTIONAL_MODULES for m in eager_modules(p)}
    assert {"torch", "streamlit", "numpy"} <= third_party & eager  # the walk really saw the imports
    assert {"pythae", "ray"} <= third_party - eager  # and the lazy ones
    installed, declared = importlib.metadata.packages_distributions(), declared_distributions()  # scans: once
    optional = declared_distributions(extras=True)

    def accepted(module: str, dist: str) -> bool:
        return dist in declared or (dist in optional and module not in eager)

    missing = sorted(f"{m} ({d})" for m in third_party if not accepted(m, d := distribution_of(m, installed)))
    assert missing == []


def test_pages_cache_only_through_the_ui_helper():
    """A page caches with ui.per_model (keyed by checkpoint hashes, results read-only) or a ui cache, never
    st.cache_* with hand-built keys and unhashed models."""
    offenders = [p.name for p in PAGES.glob("*.py") if "st.cache_" in p.read_text()]
    assert offenders == []
    assert len(list(PAGES.glob("*.py"))) > 5  # the glob really saw the pages


def test_no_public_name_shadows_a_module():
    """`import aeviz.train; aeviz.train.TrainConfig` works: no package binds a module's name to anything else."""
    import importlib
    import pkgutil

    packages = [module_name(p) for p in PACKAGE.rglob("__init__.py")]
    shadowed = []
    for package in packages:
        namespace = importlib.import_module(package)
        for sub in pkgutil.iter_modules(namespace.__path__):
            if sub.name == "__main__":  # `python -m aeviz`: running it is its only use
                continue
            name = f"{package}.{sub.name}"
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError:  # an extra's own module without the extra (aeviz[cluster] without Ray)
                assert name in {module_name(p) for p in OPTIONAL_MODULES}, name
                if hasattr(namespace, sub.name):
                    shadowed.append(name)
                continue
            if getattr(namespace, sub.name) is not module:
                shadowed.append(name)
    assert shadowed == []
    assert len(packages) > 5  # the walk saw the subpackages
    import aeviz.train

    assert aeviz.train.TrainConfig is aeviz.TrainConfig


def test_architecture_md_names_every_module():
    """ARCHITECTURE.md lists every module of aeviz (by its name in backticks: `names.py`, `foreign/`'s `costs`),
    so a newcomer's map of the code has no blank spot."""
    text = (PACKAGE.parent / "ARCHITECTURE.md").read_text()
    quoted = " ".join(re.findall(r"`([^`\n]+)`", text))
    missing = [
        str(path.relative_to(PACKAGE))
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.stem not in ("__init__",) and not re.search(rf"(?<![\w]){re.escape(path.stem)}(?![\w])", quoted)
    ]
    assert not missing, f"ARCHITECTURE.md does not name: {', '.join(missing)}"
