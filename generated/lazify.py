"""Turn a betterproto2 output module into one that creates its classes on first use.

The ``mattermost.pluginapi.v1`` module defines 648 dataclasses; creating them all costs about
125 ms and several MiB at every plugin start, while a plugin touches a few dozen (and of the
well-known ``google.protobuf`` types, most plugins need none before a post's props arrive). :func:`lazify`
keeps the compiler's text of every class, moved into a factory function, and adds a module
``__getattr__`` (PEP 562) that runs a class's factory when the class is first named, together
with the classes its fields and methods name, so betterproto2's ``get_type_hints`` on the
module's globals still finds every type it needs. Type checkers and readers get the compiler's
unchanged text as the module's ``.pyi`` stub.

Only classes move: the imports and other module statements keep their order at the top.
"""

from __future__ import annotations

import ast
import textwrap

#: Appended to the lazy module: the loader. ``_FACTORIES``, ``_NEEDS`` and ``_PROTO_NAMES``
#: precede it. Loading holds a lock, so two threads never create two copies of a class, and
#: publishes a class together with the classes it names.
LOADER = '''
_lock = _threading.RLock()


def _load(name: str, created: dict[str, type]) -> type:
    cls = globals().get(name)
    if cls is None:
        cls = created.get(name)
    if cls is None:
        cls = created[name] = _FACTORIES[name]()
        for other in _NEEDS[name]:
            _load(other, created)
    return cls


def __getattr__(name: str) -> type:
    if name not in _FACTORIES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with _lock:
        created: dict[str, type] = {}
        cls = _load(name, created)
        globals().update(created)  # all at once: no thread sees a class before the ones it names
    return cls


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_FACTORIES))


def load_message(proto_name: str) -> type:
    """The class of the message or enum named ``proto_name`` in this proto package."""
    return __getattr__(_PROTO_NAMES.get(proto_name, proto_name))


def load_all() -> None:
    """Create every class of the module now (for code that walks the message pool)."""
    for name in _FACTORIES:
        __getattr__(name)
'''


def _names_in(node: ast.AST, known: set[str]) -> set[str]:
    """The known names that ``node`` mentions, in code or in string annotations."""
    found: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and child.id in known:
            found.add(child.id)
        elif isinstance(child, ast.Constant) and isinstance(child.value, str):
            try:
                expression = ast.parse(child.value, mode="eval")
            except SyntaxError:
                continue
            found |= {n.id for n in ast.walk(expression) if isinstance(n, ast.Name) and n.id in known}
    return found


def _registered_class(statement: ast.stmt) -> str | None:
    """For ``default_message_pool.register_message(package, proto_name, Class)``: ``Class``."""
    if (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)
            and isinstance(statement.value.func, ast.Attribute)
            and statement.value.func.attr == "register_message"
            and isinstance(statement.value.args[2], ast.Name)):
        return statement.value.args[2].id
    return None


def lazify(source: str) -> str:
    """The lazy form of a generated module's ``source`` (see the module docstring)."""
    tree = ast.parse(source)
    lines = source.splitlines()

    def text(statement: ast.stmt) -> str:
        first = min([statement.lineno, *(d.lineno for d in getattr(statement, "decorator_list", []))])
        return "\n".join(lines[first - 1:statement.end_lineno])

    classes = {s.name: s for s in tree.body if isinstance(s, ast.ClassDef)}
    known = set(classes)
    registrations: dict[str, ast.stmt] = {}
    proto_names: dict[str, str] = {}
    header_end = tree.body[0].lineno - 1
    kept: list[str] = []
    for statement in tree.body:
        registered = _registered_class(statement)
        if registered is not None:
            registrations[registered] = statement
            proto_name = ast.literal_eval(statement.value.args[1])  # type: ignore[attr-defined]
            if proto_name != registered:
                proto_names[proto_name] = registered
        elif not isinstance(statement, ast.ClassDef):
            kept.append(text(statement))

    out = ["\n".join(lines[:header_end]).rstrip(), *kept, "import threading as _threading"]
    for name, statement in classes.items():
        body = text(statement)
        qualname = f"{' ' * 4}__qualname__ = {name!r}\n"
        header, _, rest = body.partition(f"class {name}(")
        head, _, members = rest.partition(":\n")
        body = f"{header}class {name}({head}:\n{qualname}{members}"
        register = text(registrations[name]) if name in registrations else ""
        factory = f"def _make_{name}() -> type:\n{textwrap.indent(body, '    ')}\n"
        if register:
            factory += f"\n{textwrap.indent(register, '    ')}\n"
        factory += f"    return {name}"
        out.append(factory)
    out.append("_FACTORIES = {\n" + "".join(f"    {n!r}: _make_{n},\n" for n in classes) + "}")
    needs = {n: sorted(_names_in(s, known) - {n}) for n, s in classes.items()}
    out.append("_NEEDS: dict[str, tuple[str, ...]] = {\n"
               + "".join(f"    {n!r}: ({''.join(f'{d!r}, ' for d in deps).rstrip()}),\n" for n, deps in needs.items())
               + "}")
    out.append("_PROTO_NAMES = {\n" + "".join(f"    {p!r}: {n!r},\n" for p, n in sorted(proto_names.items())) + "}")
    out.append(LOADER.strip())
    return "\n\n\n".join(out) + "\n"
