"""The layout's promises (docs/layout.md), read off the code: imports go down the order of folders and form no
cycle, a flag is named only where its setting is declared, no function takes a bag of parameters, long
functions say why, and the scripts import the installed package."""

import ast
import re
from pathlib import Path

import pytest

from fungi_hb.cli import create_memory_bank, eval_gradients
from fungi_hb.cli.declared import declared
from fungi_hb.cli.fields import FLAGS, render
from fungi_hb.jobs.configs import EvalJob, MemoryBankJob

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "fungi_hb"
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_PARAMETERS = 7  # self and cls counted
LONG_LINES = 60  # a function this long says why (a "# long:" comment at its top)


def folder_order() -> list[str]:
    """The folders in the order of docs/layout.md's table: each imports only the ones after it."""
    names = re.findall(r"^\| `([a-z_]+)/` \|", (ROOT / "docs" / "layout.md").read_text(), flags=re.M)
    assert names, "docs/layout.md lost its table of folders"
    return list(dict.fromkeys(names))


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every fungi_hb module ``path`` imports, at the top or inside a function (a name imported from a
    package resolves to its submodule where there is one)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("fungi_hb")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fungi_hb") and node.level == 0:
            for alias in node.names:
                inner = f"{node.module}.{alias.name}"
                found.add(inner if inner in ALL_MODULES else node.module)
    return found


ALL_MODULES = {module_name(path) for path in MODULES}


def test_imports_go_down_the_declared_order_of_folders():
    order = folder_order()
    rank = {name: i for i, name in enumerate(order)}
    up = []
    for path in MODULES:
        parts = path.relative_to(PACKAGE).parts
        here = parts[0] if len(parts) > 1 else None  # None: a top-level module, which imports no folder
        for target in imported(path):
            there = target.split(".")[1] if target.count(".") >= 1 else None
            if there not in rank or there == here:
                continue
            if here is None or rank[there] < rank[here]:
                up.append(f"{path.relative_to(PACKAGE)} imports {target}")
    missing = {p.relative_to(PACKAGE).parts[0] for p in MODULES if len(p.relative_to(PACKAGE).parts) > 1} - set(rank)
    assert not missing, f"folders missing from docs/layout.md's table: {sorted(missing)}"
    assert not up, "imports that go up the order of docs/layout.md:\n" + "\n".join(sorted(up))


def test_no_import_cycles():
    graph = {module_name(path): imported(path) for path in MODULES}
    index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    assert not cycles, f"modules that import each other (directly or round a loop): {cycles}"


def _calls_to_setting(tree: ast.AST) -> set[int]:
    """ids of the string constants inside ``setting(...)`` declarations (where flags are named)."""
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("setting", "Flag"):
            inside |= {id(n) for n in ast.walk(node) if isinstance(n, ast.Constant)}
    return inside


def test_a_flag_is_named_only_where_its_setting_is_declared_and_in_cli():
    pattern = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]+")
    known = set(FLAGS.values()) | {"--n-neighbors"}
    offenders = []
    for path in MODULES:
        if "cli" in path.relative_to(PACKAGE).parts:
            continue
        tree = ast.parse(path.read_text())
        declaration = _calls_to_setting(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in declaration:
                if any(flag in known for flag in pattern.findall(node.value)):
                    offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {node.value[:80]!r}")
    assert not offenders, "flag names outside their declaration (name the job field in backticks):\n" + "\n".join(
        offenders
    )


def test_the_table_from_fields_to_flags_is_the_declarations():
    for job, parser in ((MemoryBankJob, create_memory_bank.build_parser()), (EvalJob, eval_gradients.build_parser())):
        options = {option for action in parser._actions for option in action.option_strings}
        for item in declared(job):
            assert FLAGS[item.path] == item.flag.name and item.flag.name in options
            assert item.help.strip(), f"{item.path} has no help"
    assert FLAGS["memory.memory_size"] == "--memory-size" and FLAGS["support_features"] == "--memory-bank"


def test_messages_name_flags_for_users_of_the_scripts():
    message = "`memory.memory_size` 7: too small. Raise `memory.memory_size` or lower `index.num_neighbors`."
    assert render(message) == "--memory-size 7: too small. Raise --memory-size or lower --num-neighbors."
    assert render("`backbone.blocks.11` stays") == "`backbone.blocks.11` stays"


def _functions():
    for path in MODULES:
        source = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(source))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield path, source, node


def test_no_function_takes_a_bag_of_parameters():
    bags = []
    for path, source, node in _functions():
        arguments = node.args
        count = len(arguments.posonlyargs) + len(arguments.args) + len(arguments.kwonlyargs)
        where = f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}"
        if count > MAX_PARAMETERS:
            bags.append(f"{where} takes {count} parameters")
        forwarded = "# signature of" in source[node.lineno - 1]  # a callback whose signature a library sets
        if arguments.kwarg is not None and not forwarded:
            bags.append(f"{where} takes **{arguments.kwarg.arg}")
    assert not bags, "functions that take more than 7 parameters or hide them in **kwargs:\n" + "\n".join(bags)


def test_long_functions_say_why():
    unexplained = []
    for path, source, node in _functions():
        length = node.end_lineno - node.lineno + 1
        head = "\n".join(source[node.lineno - 2 : node.body[0].lineno])
        if length >= LONG_LINES and "# long:" not in head:
            unexplained.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({length} lines)")
    assert not unexplained, "functions of 60 lines or more without a '# long:' reason:\n" + "\n".join(unexplained)


@pytest.mark.parametrize("folder", ["scripts", "benchmarks"])
def test_scripts_and_benchmarks_import_the_installed_package(folder):
    edits = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sorted((ROOT / folder).glob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "sys.path" in line
    ]
    assert not edits, f"sys.path edits (the set-up installs the package; only the two root scripts add src/): {edits}"


@pytest.mark.parametrize(
    "script", ["create_memory_bank.py", "eval_gradients.py", "scripts/collect_table.py", "scripts/prepare_data.py"]
)
def test_help_is_shown_without_loading_torch(script):
    """The flags and their defaults come from torch-free config modules; the libraries load after parsing."""
    import subprocess
    import sys

    code = (
        "import runpy, sys; sys.argv = [sys.argv[1], '--help']\n"
        "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\n"
        "except SystemExit as stop:\n    print('exit', stop.code, 'torch' in sys.modules, 'timm' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code, script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "exit 0 False False", result.stderr
    assert "(default: None)" not in result.stdout
    if not script.startswith("scripts/"):
        assert "--memory-size" in result.stdout


def test_every_identity_field_names_a_real_setting():
    """A refused bank names the setting to change: each identity field's setting is a field with a flag."""
    from fungi_hb.cli.fields import FLAGS
    from fungi_hb.identity import SETTING_OF

    assert [setting for setting in SETTING_OF.values() if setting not in FLAGS] == []
