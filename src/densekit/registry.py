"""One name -> part resolver for every kind of part (tier 0: imports only ``errors``).

Activations, losses, optimizers, initializers, regularizers and schedules are named in
user code (``Dense(64, activation="relu")``, ``compile("adam", "mse")``) and in model
files (``{"name": "adam", "learning_rate": 0.001}``). Each kind keeps one
:class:`Registry`; a module that defines a part registers it, and code that needs a part
by name asks the registry, never the defining module. Model file formats and their
extensions (pruning masks, int8 tensors) are registered the same way, so serialization
knows them by name without importing the modules that add them.

    ACTIVATIONS = Registry("activation", Activation)
    ACTIVATIONS.register("relu", ReLU, aliases=("ReLU",))
    ACTIVATIONS.resolve("relu")                          # ReLU()
    ACTIVATIONS.resolve({"name": "leaky_relu", "negative_slope": 0.1})
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from .errors import ArgumentError, ArgumentTypeError, DensekitError

T = TypeVar("T")


class Registry(Generic[T]):
    """Parts of one kind by name, with aliases.

    Parameters
    ----------
    kind
        What the parts are, as the error messages name them ("activation", "loss").
    base
        The parts' class: :meth:`resolve` passes an instance of it through unchanged.
    """

    def __init__(self, kind: str, base: type | None = None):
        self.kind = kind
        self.base = base
        self._parts: dict[str, Callable[..., T]] = {}
        self._aliases: dict[str, str] = {}

    def register(
        self, name: str, part: Callable[..., T] | None = None, *, aliases: Iterable[str] = ()
    ) -> Any:
        """Register ``part`` under ``name`` (and ``aliases``); without ``part``, a decorator.

        Parameters
        ----------
        name
            The name users and files give; :attr:`names` lists it.
        part
            What the name stands for: a class or factory (called by :meth:`resolve` with
            the config's parameters), or any object :meth:`get` should return.
        aliases
            Other spellings of the name (Keras' ``"mse"`` for ``"mean_squared_error"``).

        Returns
        -------
        The part, so that ``register`` works as a decorator.

        Raises
        ------
        ArgumentError
            If ``name`` or an alias is registered already.
        """
        if part is None:
            return lambda decorated: self.register(name, decorated, aliases=aliases)
        for key in (name, *aliases):
            if key in self._parts or key in self._aliases:
                raise ArgumentError(f"{self.kind} {key!r} is registered already")
        self._parts[name] = part
        for alias in aliases:
            self._aliases[alias] = name
        return part

    @property
    def names(self) -> tuple[str, ...]:
        """The registered names (not the aliases), in the order they were registered."""
        return tuple(self._parts)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (name in self._parts or name in self._aliases)

    def canonical(self, name: str) -> str:
        """The registered name for ``name`` or one of its aliases.

        Parameters
        ----------
        name
            A registered name or alias.

        Returns
        -------
        str
            The registered name.

        Raises
        ------
        ArgumentError
            If nothing is registered under ``name``; the message lists what is.
        """
        if isinstance(name, str):
            name = self._aliases.get(name, name)
            if name in self._parts:
                return name
        raise ArgumentError(
            f"unknown {self.kind} {name!r}; expected one of {', '.join(self.names)}"
        )

    def get(self, name: str) -> Callable[..., T]:
        """The part registered under ``name`` (or an alias of it); see :meth:`canonical`."""
        return self._parts[self.canonical(name)]

    def resolve(self, identifier: Any) -> T:
        """An instance of a part from an instance, a name or a config dict.

        Parameters
        ----------
        identifier
            An instance of :attr:`base` (returned as it is), a registered name (the part
            called with no arguments), or ``{"name": ..., **parameters}`` (the part
            called with the parameters), as ``get_config()`` writes it.

        Returns
        -------
        The part's instance.

        Raises
        ------
        ArgumentTypeError
            If ``identifier`` is none of these.
        ArgumentError
            If the name is unknown (the message lists the known ones).
        """
        if self.base is not None and isinstance(identifier, self.base):
            return identifier
        if isinstance(identifier, str):
            return self.create(identifier, {})
        if isinstance(identifier, dict):
            params = dict(identifier)
            return self.create(params.pop("name", None), params)
        expected = "a name or a config dict"
        if self.base is not None:
            base = self.base.__name__
            expected = f"a name, a config dict or {'an' if base[0] in 'AEIOU' else 'a'} {base}"
        raise ArgumentTypeError(f"{self.kind} must be {expected}, got {type(identifier).__name__}")

    def create(self, name: str, params: dict) -> T:
        """The part registered under ``name``, called with ``params``.

        Parameters
        ----------
        name
            A registered name or alias.
        params
            The keyword arguments of the call.

        Returns
        -------
        What the part returns.

        Raises
        ------
        ArgumentError
            If the name is unknown, or the part refuses the parameters (a ``TypeError``
            of the call, such as an unexpected keyword, says which).
        DensekitError
            Whatever the part itself raises for a bad value, passed on as it is.
        """
        part = self.get(name)
        try:
            return part(**params)
        except DensekitError:
            raise
        except TypeError as exc:
            name = self.canonical(name)
            raise ArgumentError(f"bad parameters {params} for {self.kind} {name!r}: {exc}") from exc
