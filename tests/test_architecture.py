"""The import contract of docs/architecture.md, read from the source itself (the AST, so imports inside
functions and under `if TYPE_CHECKING` count as much as those at the top of a module):

* layers flow one way: web → orchestrator → transcribe → media → groundwork, never back up;
* media, transcribe and groundwork import no web or database framework (Flask, SQLAlchemy, RQ, ...);
* every import of a project module names a module that exists (a moved module leaves no stale import);
* the media server process, as `diemcau media-server` starts it, never loads Flask.
"""
from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Which project packages each layer may import (its own included). transcribe reads media through
# media's ffmpeg input rules; media never needs speech recognition.
MAY_IMPORT = {
    "web": {"web", "orchestrator", "transcribe", "media", "groundwork"},
    "orchestrator": {"orchestrator", "transcribe", "media", "groundwork"},
    "transcribe": {"transcribe", "media", "groundwork"},
    "media": {"media", "groundwork"},
    "groundwork": {"groundwork"},
}
PROJECT_PACKAGES = set(MAY_IMPORT)
FRAMEWORK_FREE = ("media", "transcribe", "groundwork")
FRAMEWORKS = ("flask", "flask_", "sqlalchemy", "rq", "rq_", "werkzeug", "alembic")  # "flask_": flask_login, ...
DRIVERS = ("tests", "bench", "scripts")  # they may import any layer, but only modules that exist


@dataclass(frozen=True)
class Import:
    path: Path
    line: int
    module: str               # the imported module, absolute
    names: tuple[str, ...]    # `from module import names`; () for `import module`

    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, module: str | None = None) -> list[Import]:
    """Every import in the file, relative ones resolved against `module` (by default the file's own name)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module = module or _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(path, node.lineno, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.append(Import(path, node.lineno, base, tuple(alias.name for alias in node.names)))
    return found


def python_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py") if ".venv" not in p.parts)


def _top(module: str) -> str:
    return module.split(".")[0]


def _is_module(dotted: str) -> bool:
    base = ROOT.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def test_layers_flow_one_way():
    wrong = []
    for layer, allowed in MAY_IMPORT.items():
        for imp in (i for path in python_files(layer) for i in imports_of(path)):
            if _top(imp.module) in PROJECT_PACKAGES and _top(imp.module) not in allowed:
                wrong.append(f"{imp.where()}: {layer} imports {imp.module} ({layer} may import only "
                             f"{', '.join(sorted(allowed))})")
    assert not wrong, "imports against the layers (docs/architecture.md):\n" + "\n".join(wrong)


def test_media_transcribe_and_groundwork_import_no_web_or_database_framework():
    wrong = []
    for imp in (i for path in python_files(*FRAMEWORK_FREE) for i in imports_of(path)):
        top = _top(imp.module)
        if any(top == name or (name.endswith("_") and top.startswith(name)) for name in FRAMEWORKS):
            wrong.append(f"{imp.where()}: imports {imp.module}")
    assert not wrong, ("media, transcribe and groundwork take paths and options and know nothing of Flask, "
                       "the database or RQ:\n" + "\n".join(wrong))


def test_project_imports_name_existing_modules():
    missing = []
    for imp in (i for path in python_files(*PROJECT_PACKAGES, *DRIVERS) for i in imports_of(path)):
        if _top(imp.module) in PROJECT_PACKAGES and not _is_module(imp.module):
            missing.append(f"{imp.where()}: {imp.module} is not a module of this project")
    assert not missing, "\n".join(missing)


def test_the_import_walk_sees_imports_inside_functions(tmp_path):
    """The checks above are only as good as imports_of: it must see nested and relative imports."""
    probe = tmp_path / "probe.py"
    probe.write_text("def late():\n    from ..server import app\n    import flask\n    return app, flask\n")
    seen = {(imp.module, imp.names) for imp in imports_of(probe, "media.live.probe")}
    assert seen == {("media.server", ("app",)), ("flask", ())}


def _loaded_modules(code: str, env: dict[str, str] | None = None) -> set[str]:
    """The top-level packages a fresh interpreter has loaded after running `code`."""
    script = code + "\nimport json, sys\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


FORBIDDEN_IN_MEDIA_SERVER = {"flask", "werkzeug", "flask_sqlalchemy", "sqlalchemy", "rq", "orchestrator"}


def test_importing_the_media_server_loads_no_flask():
    loaded = _loaded_modules("import media.server.app")
    assert not loaded & FORBIDDEN_IN_MEDIA_SERVER, sorted(loaded & FORBIDDEN_IN_MEDIA_SERVER)
    assert "groundwork" in loaded and "aiohttp" in loaded  # the probe did import the server


def test_the_media_server_command_loads_no_flask(tmp_path):
    """`diemcau media-server --recover`: the CLI, the settings, storage and Redis URL of the real process."""
    code = ("import sys\nfrom orchestrator.cli import main\n"
            "try:\n    main(['media-server', '--recover'])\nexcept SystemExit as exc:\n"
            "    assert not exc.code, exc.code\n")
    loaded = _loaded_modules(code, {"DIEMCAU_DATA_DIR": str(tmp_path / "data"),
                                    "REDIS_URL": "redis://127.0.0.1:9/0",  # named, never contacted: no spools
                                    "STORAGE_URL": str(tmp_path / "storage")})
    assert "media" in loaded and "click" in loaded
    assert not loaded & (FORBIDDEN_IN_MEDIA_SERVER - {"orchestrator"}), sorted(loaded & FORBIDDEN_IN_MEDIA_SERVER)


# --- settings: one module reads the environment ---------------------------------------------------

SETTINGS_HOME = "groundwork/config.py"
# Modules that may touch os.environ for reading, each with the reason. Writing a variable
# (`os.environ[name] = value`, for a child process or a library) is not a read and needs no entry.
ENVIRON_READERS_ALLOWED = {
    "orchestrator/launcher.py": "copies the whole environment to the processes it supervises; reads no variable",
    "orchestrator/asr_eval.py": "copies the whole environment to the burst workers it starts; reads no variable",
}


def environ_reads(path: Path) -> list[tuple[int, str]]:
    """(line, what) where `path` reads the process environment: os.environ (but as the target of an
    assignment or `del`), os.getenv, os.environb, or `environ`/`getenv` imported from os."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    written = {id(node.value) for node in ast.walk(tree)
               if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del)}
    names = {"environ", "environb", "getenv", "getenvb"}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os" \
                and node.attr in names and id(node) not in written:
            found.append((node.lineno, f"os.{node.attr}"))
        elif isinstance(node, ast.ImportFrom) and node.module == "os" and {a.name for a in node.names} & names:
            found.append((node.lineno, "from os import " + ", ".join(a.name for a in node.names)))
    return sorted(found)


def test_only_the_settings_read_the_environment():
    wrong = []
    for path in python_files(*PROJECT_PACKAGES):
        where = str(path.relative_to(ROOT))
        if where != SETTINGS_HOME and where not in ENVIRON_READERS_ALLOWED:
            wrong += [f"{where}:{line}: {what}" for line, what in environ_reads(path)]
    assert not wrong, ("read the environment through groundwork.config (load_settings() or options()) and "
                       "list the variable in docs/architecture.md, Settings:\n" + "\n".join(wrong))


def test_the_environment_scan_sees_every_form_of_read(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import os\nfrom os import getenv\n"
                     "def f():\n    a = os.environ.get('A')\n    b = os.getenv('B')\n    c = 'C' in os.environ\n"
                     "    d = dict(os.environ)\n    os.environ['E'] = '1'\n    del os.environ['E']\n")
    assert [line for line, _ in environ_reads(probe)] == [2, 4, 5, 6, 7]


HISTORY_REFERENCE = re.compile(r"\bissues?\s*#?\d+", re.IGNORECASE)
TEXT_SUFFIXES = {".py", ".html", ".js", ".css", ".md", ".toml", ".txt", ".cfg", ".sh"}


def test_no_code_or_doc_points_at_an_issue_number():
    """Comments say why, not which ticket: a ticket number means nothing to the next reader."""
    folders = (*PROJECT_PACKAGES, *DRIVERS, "docs", "deploy")
    files = [p for folder in folders for p in (ROOT / folder).rglob("*")
             if p.suffix in TEXT_SUFFIXES and p.is_file() and not {".venv", "vendor"} & set(p.parts)]
    files += [ROOT / "README.md", ROOT / "pyproject.toml"]
    found = [f"{p.relative_to(ROOT)}:{n}: {line.strip()[:100]}"
             for p in files for n, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
             if HISTORY_REFERENCE.search(line)]
    assert not found, "\n".join(found)


# --- import cycles among orchestrator modules ---------------------------------------------------------
# Shared runtime pieces live in orchestrator.runtime, tables in orchestrator.models, and one feature reacts
# to another through a signal (runtime.signals): no orchestrator module needs an import placed inside a
# function to dodge a cycle.

def _orchestrator_targets(imp: Import) -> set[str]:
    """The orchestrator modules an import loads: the named module, or for `from package import name` the
    submodule `name` where there is one (a package's __init__ is left out: orchestrator's are empty of
    project imports but for publishing's adapter list)."""
    if _top(imp.module) != "orchestrator":
        return set()
    found = {f"{imp.module}.{name}" for name in imp.names if _is_module(f"{imp.module}.{name}")}
    if not found and imp.module != "orchestrator":
        found.add(imp.module)
    return found


def orchestrator_import_graph() -> dict[str, set[str]]:
    """Module → the orchestrator modules it imports, at the top or inside functions alike."""
    graph: dict[str, set[str]] = {}
    for path in python_files("orchestrator"):
        module = _module_name(path)
        if ".migrations" in module:
            continue
        graph[module] = {t for imp in imports_of(path) for t in _orchestrator_targets(imp)} - {module}
    return graph


def modules_in_cycles(graph: dict[str, set[str]]) -> set[str]:
    """Every module on some import cycle: the members of the strongly connected components with more than
    one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cyclic: set[str] = set()

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cyclic.update(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cyclic


def in_function_project_imports(*folders: str) -> list[Import]:
    """Imports of project modules placed inside a function body (usually there to dodge a cycle)."""
    found = []
    for path in python_files(*folders):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        module = _module_name(path)
        nested = {id(node) for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
                  for node in ast.walk(fn) if isinstance(node, (ast.Import, ast.ImportFrom))}
        found += [imp for imp in imports_of(path, module) if _top(imp.module) in PROJECT_PACKAGES
                  and any(n.lineno == imp.line and id(n) in nested for n in ast.walk(tree)
                          if isinstance(n, (ast.Import, ast.ImportFrom)))]
    return found


def test_no_import_cycles_among_orchestrator_modules():
    cyclic = modules_in_cycles(orchestrator_import_graph())
    assert not cyclic, ("orchestrator modules on an import cycle (imports inside functions count): "
                        + ", ".join(sorted(cyclic)))


def test_the_cycle_finder_sees_a_cycle_closed_inside_a_function():
    assert modules_in_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == {"a", "b", "c"}
    assert modules_in_cycles({"a": {"b"}, "b": set()}) == set()
