"""Hand-written native versions of xpnet's training loop, one per backend, for comparison.

Each does exactly the work of ``xpnet.train``: the same sample order (``rng.permutation(n)``
per epoch from the seed, minibatches gathered by index), the same forward pass, mean
cross-entropy, hand-derived or automatic gradients, plain SGD ``theta - lr g``, and the same
bookkeeping (summed loss and correct predictions of each batch, measured before its update).
They are written the way an experienced user of each library would write them: in-place
updates, fused library calls (``addmm``, ``log_softmax``, ``F.cross_entropy``) where natural.

Signature of every trainer: ``(X, y, params, *, epochs, lr, batch_size, seed) -> (params,
loss_sum, hits)``, with ``X``, ``y`` and ``params`` already on the backend and ``loss_sum``,
``hits`` those of the last epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

Trainer = Callable[..., tuple[Any, Any, Any]]


def _batches(n: int, size: int, order: np.ndarray | None) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


# --- NumPy -------------------------------------------------------------------------------


def numpy_train(X, y, params, *, epochs, lr, batch_size, seed):
    """Plain NumPy, in place where it saves a temporary."""
    W1, b1, W2, b2 = (np.array(p, copy=True) for p in params)
    n = X.shape[0]
    size = n if batch_size is None else min(batch_size, n)
    rng = np.random.default_rng(seed)
    loss_sum, hits = 0.0, 0
    for _ in range(epochs):
        order = None if size >= n else rng.permutation(n)
        loss_sum, hits = 0.0, 0
        for batch in _batches(n, size, order):
            if order is None:
                Xb, yb = X, y
            else:
                idx = order[batch]
                Xb, yb = X.take(idx, axis=0), y.take(idx)
            m = Xb.shape[0]
            rows = np.arange(m)
            h = Xb @ W1
            h += b1
            np.maximum(h, 0, out=h)
            z = h @ W2
            z += b2
            hits += np.count_nonzero(z.argmax(axis=1) == yb)
            z -= z.max(axis=1, keepdims=True)
            dz = np.exp(z)
            sum_exp = dz.sum(axis=1, keepdims=True)
            loss_sum += np.log(sum_exp).sum() - z[rows, yb].sum()
            dz /= sum_exp
            dz[rows, yb] -= 1.0
            dz /= m  # dJ/dz = (p - e_y) / n
            dh = dz @ W2.T
            dh *= h > 0
            W2 -= lr * (h.T @ dz)
            b2 -= lr * dz.sum(axis=0)
            W1 -= lr * (Xb.T @ dh)
            b1 -= lr * dh.sum(axis=0)
    return (W1, b1, W2, b2), loss_sum, hits


# --- PyTorch -----------------------------------------------------------------------------


def _torch_batches(X: Any, y: Any, size: int, rng: np.random.Generator) -> Iterator[Any]:
    """One epoch of torch minibatches in the order xpnet draws (the whole set when it fits)."""
    import torch

    n = X.shape[0]
    if size >= n:
        yield X, y
        return
    order = torch.from_numpy(rng.permutation(n)).to(X.device)
    for batch in _batches(n, size, None):
        idx = order[batch]
        yield X.index_select(0, idx), y.index_select(0, idx)


def torch_manual_train(X, y, params, *, epochs, lr, batch_size, seed):
    """torch tensors, no autograd: the same hand-derived backward with fused in-place ops."""
    import torch

    with torch.no_grad():
        W1, b1, W2, b2 = (p.detach().clone() for p in params)
        n = X.shape[0]
        size = n if batch_size is None else min(batch_size, n)
        rng = np.random.default_rng(seed)
        loss_sum = hits = torch.zeros((), dtype=X.dtype, device=X.device)
        for _ in range(epochs):
            loss_sum = torch.zeros((), dtype=X.dtype, device=X.device)
            hits = torch.zeros((), dtype=torch.int64, device=X.device)
            for Xb, yb in _torch_batches(X, y, size, rng):
                m = Xb.shape[0]
                h = torch.addmm(b1, Xb, W1).relu_()
                z = torch.addmm(b2, h, W2)
                hits += (z.argmax(dim=1) == yb).sum()
                log_p = torch.log_softmax(z, dim=1)
                loss_sum += torch.nn.functional.nll_loss(log_p, yb, reduction="sum")
                dz = log_p.exp_()
                dz[torch.arange(m, device=X.device), yb] -= 1.0
                dz /= m
                dh = (dz @ W2.T).mul_(h > 0)
                W2.addmm_(h.T, dz, alpha=-lr)
                b2.sub_(dz.sum(dim=0), alpha=lr)
                W1.addmm_(Xb.T, dh, alpha=-lr)
                b1.sub_(dh.sum(dim=0), alpha=lr)
    return (W1, b1, W2, b2), loss_sum, hits


def torch_autograd_train(X, y, params, *, epochs, lr, batch_size, seed):
    """The everyday PyTorch loop: autograd, ``F.cross_entropy`` and ``torch.optim.SGD``."""
    import torch

    weights = [p.detach().clone().requires_grad_(True) for p in params]
    W1, b1, W2, b2 = weights
    optimizer = torch.optim.SGD(weights, lr=lr)
    n = X.shape[0]
    size = n if batch_size is None else min(batch_size, n)
    rng = np.random.default_rng(seed)
    loss_sum = hits = torch.zeros(())
    for _ in range(epochs):
        loss_sum = torch.zeros((), dtype=X.dtype, device=X.device)
        hits = torch.zeros((), dtype=torch.int64, device=X.device)
        for Xb, yb in _torch_batches(X, y, size, rng):
            z = torch.relu(Xb @ W1 + b1) @ W2 + b2
            loss = torch.nn.functional.cross_entropy(z, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                loss_sum += loss * Xb.shape[0]
                hits += (z.argmax(dim=1) == yb).sum()
    return tuple(w.detach() for w in weights), loss_sum, hits


# --- JAX -----------------------------------------------------------------------------------


def _jax_functions() -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``jax.grad`` of the mean cross-entropy; a jitted step and a jitted ``lax.scan`` epoch."""
    import jax
    import jax.numpy as jnp

    def loss_fn(params, Xb, yb):
        W1, b1, W2, b2 = params
        z = jax.nn.relu(Xb @ W1 + b1) @ W2 + b2
        log_p = jax.nn.log_softmax(z, axis=1)
        return -jnp.mean(jnp.take_along_axis(log_p, yb[:, None], axis=1)), z

    grad_fn = jax.grad(loss_fn, has_aux=True)

    def step(params, X, y, idx, lr):
        Xb, yb = (X, y) if idx is None else (jnp.take(X, idx, axis=0), jnp.take(y, idx, axis=0))
        grads, z = grad_fn(params, Xb, yb)
        log_p = jax.nn.log_softmax(z, axis=1)
        loss_sum = -jnp.sum(jnp.take_along_axis(log_p, yb[:, None], axis=1))
        hits = jnp.sum(jnp.argmax(z, axis=1) == yb)
        new = jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)
        return new, loss_sum, hits

    def epoch(params, X, y, idx_matrix, lr):
        def body(carry, idx):
            params, loss_sum, hits = carry
            params, batch_loss, batch_hits = step(params, X, y, idx, lr)
            return (params, loss_sum + batch_loss, hits + batch_hits), None

        zero = jnp.zeros((), dtype=X.dtype)
        carry = (params, zero, jnp.zeros((), dtype=jax.dtypes.canonicalize_dtype(np.int64)))
        return jax.lax.scan(body, carry, idx_matrix)[0]

    return jax.jit(step), jax.jit(epoch)


_JAX_CACHE: dict[str, Any] = {}


def _jax_compiled() -> tuple[Callable[..., Any], Callable[..., Any]]:
    if "fns" not in _JAX_CACHE:
        _JAX_CACHE["fns"] = _jax_functions()
    return _JAX_CACHE["fns"]


def jax_jit_train(X, y, params, *, epochs, lr, batch_size, seed):
    """``jax.grad`` under ``jax.jit``: one compiled step per minibatch, driven from Python."""
    import jax

    step, _ = _jax_compiled()
    n = X.shape[0]
    size = n if batch_size is None else min(batch_size, n)
    rng = np.random.default_rng(seed)
    params = tuple(params)
    loss_sum = hits = 0
    for _ in range(epochs):
        order = None if size >= n else rng.permutation(n)
        loss_sum = hits = 0
        for batch in _batches(n, size, order):
            idx = None if order is None else order[batch]
            params, batch_loss, batch_hits = step(params, X, y, idx, lr)
            loss_sum, hits = loss_sum + batch_loss, hits + batch_hits
    return jax.block_until_ready((params, loss_sum, hits))


def jax_scan_train(X, y, params, *, epochs, lr, batch_size, seed):
    """The whole epoch compiled: ``lax.scan`` over the full minibatches, then the last one."""
    import jax

    step, epoch = _jax_compiled()
    n = X.shape[0]
    size = n if batch_size is None else min(batch_size, n)
    full = (n // size) * size
    rng = np.random.default_rng(seed)
    params = tuple(params)
    loss_sum = hits = 0
    for _ in range(epochs):
        if size >= n:
            params, loss_sum, hits = step(params, X, y, None, lr)
            continue
        order = rng.permutation(n)
        params, loss_sum, hits = epoch(params, X, y, order[:full].reshape(-1, size), lr)
        if full < n:
            params, batch_loss, batch_hits = step(params, X, y, order[full:], lr)
            loss_sum, hits = loss_sum + batch_loss, hits + batch_hits
    return jax.block_until_ready((params, loss_sum, hits))


#: ``backend -> {implementation name: trainer}``.
NATIVE: dict[str, dict[str, Trainer]] = {
    "numpy": {"native numpy": numpy_train},
    "torch": {
        "native torch manual": torch_manual_train,
        "native torch autograd+SGD": torch_autograd_train,
    },
    "jax": {"native jax.jit step": jax_jit_train, "native jax lax.scan": jax_scan_train},
}
