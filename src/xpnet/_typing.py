"""The type aliases and the parameter trees every module uses, defined once.

Arrays of any backend are typed ``Array`` (the standard has no common base class, so
this is ``Any`` with a name that says what is meant); an Array-API namespace is a
``Namespace``; a device is whatever the backend calls one.

The network's parameters come in two forms, both NamedTuples (so JAX takes them as
pytrees as they are): the lecture's :class:`Params` ``(W1, b1, W2, b2)`` and a tuple of
:class:`Layer` ``(W, b)`` for any depth. Their public home is :mod:`xpnet.mlp`; the
helpers here walk either form (and the optimizer states that mirror them):
:func:`tree_leaves`, :func:`tree_rebuild`, :func:`tree_map` and :func:`tree_map_many` for
any nested tuples,
:func:`named_leaves`, :func:`layer_arrays` and :func:`like` for parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

__all__ = [
    "Array",
    "Device",
    "Layer",
    "Layers",
    "Model",
    "Namespace",
    "Params",
    "layer_arrays",
    "like",
    "named_leaves",
    "tree_leaves",
    "tree_map",
    "tree_map_many",
    "tree_rebuild",
]

Array = Any
Namespace = Any
Device = Any


class Params(NamedTuple):
    """The network's parameters (or their gradients): an immutable tuple of four arrays.

    ``W1`` has shape ``(d, H)``, ``b1`` ``(H,)``, ``W2`` ``(H, K)``, ``b2`` ``(K,)``.
    Being a NamedTuple, it is a pytree that ``jax.jit`` and ``jax.grad`` accept
    as it is.
    """

    W1: Array
    b1: Array
    W2: Array
    b2: Array


class Layer(NamedTuple):
    """One affine layer ``a = h_in W + b``: ``W`` ``(fan_in, fan_out)``, ``b`` ``(fan_out,)``.

    A network is a tuple of layers (one layer is softmax regression); like :class:`Params`
    it is a pytree that ``jax.jit`` and ``jax.grad`` accept as it is.
    """

    W: Array
    b: Array


# Their public home (reprs, pickles and the docs name them there).
Params.__module__ = Layer.__module__ = "xpnet.mlp"

Layers = tuple[Layer, ...]
Model = Any  # Params or a tuple of Layer


# --- any nested tuples (NamedTuples kept) --------------------------------------------------


def tree_leaves(tree: Any) -> list[Any]:
    """The leaves of nested tuples, depth first."""
    if isinstance(tree, tuple):
        return [leaf for item in tree for leaf in tree_leaves(item)]
    return [tree]


def tree_rebuild(tree: Any, leaves: Iterator[Any]) -> Any:
    """``tree``'s structure with its leaves taken in order from ``leaves``."""
    if isinstance(tree, tuple):
        items = [tree_rebuild(item, leaves) for item in tree]
        return type(tree)(*items) if hasattr(tree, "_fields") else type(tree)(items)
    return next(leaves)


def tree_map(fn: Callable[..., Array], tree: Any, *rest: Any) -> Any:
    """``fn`` applied leaf by leaf to trees of one structure (Params, Layer, tuples)."""
    if type(tree) is Params:  # the lecture's four arrays: no recursion
        return Params(*[fn(*leaves) for leaves in zip(tree, *rest)])
    if isinstance(tree, tuple):
        mapped = [tree_map(fn, *items) for items in zip(tree, *rest)]
        return type(tree)(*mapped) if hasattr(tree, "_fields") else tuple(mapped)
    return fn(tree, *rest)


def tree_map_many(fn: Callable[..., tuple[Array, ...]], tree: Any, *rest: Any) -> tuple[Any, ...]:
    """``fn`` applied leaf by leaf to trees of one structure, returning a tuple per leaf:
    a tuple of trees of that structure, the first of the first results and so on (one pass
    where several ``tree_map`` calls would walk the trees once each)."""
    if type(tree) is Params:  # the lecture's four arrays: no recursion
        results = [fn(*leaves) for leaves in zip(tree, *rest)]
        return tuple(Params(*column) for column in zip(*results))
    leaves = [tree_leaves(t) for t in (tree, *rest)]
    results = [fn(*args) for args in zip(*leaves)]
    return tuple(tree_rebuild(tree, iter(column)) for column in zip(*results))


# --- the network's parameters ---------------------------------------------------------------


def like(layers: Layers, params: Model) -> Model:
    """``layers`` in the form of ``params`` (Params or a tuple of Layer)."""
    if isinstance(params, Params):
        (W1, b1), (W2, b2) = layers
        return Params(W1, b1, W2, b2)
    return tuple(layers)


def named_leaves(params: Model, name: str = "params") -> tuple[list[Array], list[str]]:
    """The arrays of ``params`` (either form) and their names, with a clear error for
    anything that is neither form."""
    if isinstance(params, Params):
        return list(params), [f"{name}.{field}" for field in Params._fields]
    if not isinstance(params, tuple) or not params:
        raise TypeError(
            f"{name}: expected Params(W1, b1, W2, b2) or a non-empty tuple of Layer(W, b), "
            f"got {type(params).__name__}"
        )
    if not any(isinstance(p, tuple) for p in params):
        # a plain tuple of arrays: the lecture's four without the NamedTuple (other lengths
        # are reported by the caller, which knows what it expected)
        if len(params) == 4:
            return list(params), [f"{name}.{field}" for field in Params._fields]
        return list(params), [f"{name}[{i}]" for i in range(len(params))]
    arrays, names = [], []
    for i, layer in enumerate(params):
        if not isinstance(layer, tuple) or len(layer) != 2:
            raise TypeError(f"{name}[{i}]: expected Layer(W, b), got {type(layer).__name__}")
        arrays += [layer[0], layer[1]]
        names += [f"{name}[{i}].W", f"{name}[{i}].b"]
    return arrays, names


def layer_arrays(params: Any) -> Any:
    """The arrays of ``Params`` or of a tuple of ``Layer``, in order; ``None`` for anything
    else (plain tuples, malformed parameters), which the full checks handle."""
    if type(params) is Params:
        return params
    if type(params) is tuple and params and all(type(layer) is Layer for layer in params):
        return [a for layer in params for a in layer]
    return None
