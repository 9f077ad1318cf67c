"""A subpackage's public names, imported from their modules on first use (PEP 562).

A subpackage whose modules need Keras or TensorFlow lists its public names as it always would,
as `from keras_wsal.pkg.module import name` statements, but under `if TYPE_CHECKING:` in its
`__init__.py`; `lazy_exports` reads those statements and imports a module only when one of its
names is first used. Type checkers and IDEs see the names as usual; the command line can read a
subpackage's light modules (names of models, rules, backbones) without loading a Keras backend.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable
from pathlib import Path


def _exported_names(init_file: str) -> dict[str, str]:
    """{name: module} of the `from M import name` statements under `if TYPE_CHECKING:`."""
    tree = ast.parse(Path(init_file).read_text(encoding="utf-8"), init_file)
    exports = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and statement.module:
                    for alias in statement.names:
                        exports[alias.asname or alias.name] = statement.module
    return exports


def lazy_exports(package: str, init_file: str, public: list[str]) -> tuple[Callable, Callable]:
    """`(__getattr__, __dir__)` for the package `package` whose `__init__` is `init_file`.

    `public` is the package's `__all__`; it must name exactly the names imported under
    `TYPE_CHECKING` (a mismatch is a bug of the package, raised at import).

    Example, in `keras_wsal/models/__init__.py`:

        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            from keras_wsal.models.wsgn import WSGN
        __all__ = ["WSGN"]
        __getattr__, __dir__ = lazy_exports(__name__, __file__, __all__)
    """
    exports = _exported_names(init_file)
    if sorted(exports) != sorted(public):
        raise ImportError(
            f"{package}: __all__ and the names imported under TYPE_CHECKING differ: "
            f"{sorted(set(exports) ^ set(public))}"
        )

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
