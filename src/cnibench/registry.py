"""Families of parts (scenarios, platforms, CNIs, netns datapaths) as registries: name -> part.

A registry discovers its parts by importing every module of its package (a part registers itself when its module is
imported), so adding a CNI or a scenario is adding one module: no list elsewhere names it. An unknown name fails with
the list of valid ones (asv's and molecule's convention).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownName(ValueError):
    """A name no part of the family has; the message lists the valid ones."""


class Registry(Generic[T]):
    """Parts of one family by name, in registration order.

    ``package``: the dotted name of the package whose modules are imported (once, on first use) to find the parts;
    modules whose name starts with ``_`` or is ``base`` are skipped. ``nested``: the modules of each subpackage are
    imported too, one level down (the platforms: ``platforms/<family>/<module>``); ``module``: with ``nested``, only
    the modules of that name (the Ansible tasks: ``platforms/<family>/tasks.py``). ``first`` names modules (dotted,
    relative to ``package``; a package names its modules) imported before the others, in that order, and their
    parts lead every list (the others follow in the order they register).
    """

    def __init__(
        self,
        what: str,
        package: str | None = None,
        *,
        first: tuple[str, ...] = (),
        nested: bool = False,
        module: str | None = None,
    ) -> None:
        self.what = what
        self.package = package
        self.first = first
        self.nested = nested
        self.module = module
        self._parts: dict[str, T] = {}
        self._discovered = package is None

    def register(self, name: str, part: T) -> T:
        """Add ``part`` under ``name``; a second part of the same name is a programming error (ValueError)."""
        if name in self._parts and self._parts[name] is not part:
            raise ValueError(f"two {self.what}s named {name!r}")
        self._parts[name] = part
        return part

    def _discover(self) -> None:
        if self._discovered or self.package is None:
            return
        self._discovered = True
        for name in sorted(self._module_names(), key=lambda n: (self._rank(n), n)):
            importlib.import_module(f"{self.package}.{name}")
        # a module imported before the first use (a test importing kind's module) registered its parts early: the
        # order is still the discovery's, whatever was imported first: the ``first`` modules' parts, then the others
        # by module name (a stable sort keeps a module's own parts in the order it registered them)
        self._parts = dict(sorted(self._parts.items(), key=lambda item: self._key(self._module_of(item[1]))))

    def _key(self, module: str) -> tuple[int, str]:
        """A part's place: its module's :meth:`_rank`, then the module's name (the discovery's own order)."""
        return self._rank(module), module if self._rank(module) == len(self.first) else ""

    def _module_names(self) -> list[str]:
        """The modules to import, dotted and relative to the package."""
        assert self.package is not None
        package = importlib.import_module(self.package)
        names: list[str] = []
        for info in _modules(package.__path__):
            if not self.nested:
                names.append(info.name)
            elif info.ispkg:
                inner = importlib.import_module(f"{self.package}.{info.name}")
                names += [f"{info.name}.{sub.name}" for sub in _modules(inner.__path__)
                          if self.module in (None, sub.name)]  # fmt: skip
            elif self.module is None:
                names.append(info.name)
        return names

    def _rank(self, module: str) -> int:
        """Where the parts of ``module`` (dotted, relative to the package) go: the index of the ``first`` entry
        naming it or its package, after every ``first`` entry otherwise."""
        for index, name in enumerate(self.first):
            if module == name or module.startswith(f"{name}."):
                return index
        return len(self.first)

    def _module_of(self, part: T) -> str:
        """The module that defines ``part`` (a class, or an instance of one), relative to the package."""
        module = str(getattr(part, "__module__", None) or type(part).__module__)
        return module.removeprefix(f"{self.package}.")

    def get(self, name: str) -> T:
        """The part called ``name``. Raises :class:`UnknownName` listing the valid names."""
        self._discover()
        try:
            return self._parts[name]
        except KeyError:
            raise UnknownName(f"unknown {self.what} {name!r}; valid: {', '.join(self._parts)}") from None

    def names(self) -> tuple[str, ...]:
        self._discover()
        return tuple(self._parts)

    def values(self) -> tuple[T, ...]:
        self._discover()
        return tuple(self._parts.values())

    def __contains__(self, name: object) -> bool:
        self._discover()
        return name in self._parts

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


def _modules(path: Iterable[str]) -> list[pkgutil.ModuleInfo]:
    """The modules of a package's ``path`` that can hold parts: not ``base``, not private (``_``)."""
    return [m for m in pkgutil.iter_modules(path) if not m.name.startswith("_") and m.name != "base"]
