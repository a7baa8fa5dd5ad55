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
            da = dz @ W2.T
            da *= h > 0  # dJ/da = (dJ/dz W2^T) * relu'(a); h > 0 exactly where a > 0
            W2 -= lr * (h.T @ dz)
            b2 -= lr * dz.sum(axis=0)
            W1 -= lr * (Xb.T @ da)
            b1 -= lr * da.sum(axis=0)
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
                da = (dz @ W2.T).mul_(h > 0)  # dJ/da = (dJ/dz W2^T) * relu'(a)
                W2.addmm_(h.T, dz, alpha=-lr)
                b2.sub_(dz.sum(dim=0), alpha=lr)
                W1.addmm_(Xb.T, da, alpha=-lr)
                b1.sub_(da.sum(dim=0), alpha=lr)
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


# --- Adam on networks of any depth (the *deep* workload) --------------------------------------
#
# scikit-learn's rule (``sklearn/neural_network/_stochastic_optimizers.py``), as xpnet.optim.Adam:
#   m <- b1 m + (1 - b1) g;   s <- b2 s + (1 - b2) g^2;   t <- t + 1
#   theta <- theta - lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(s) + eps)
# ``params`` is a tuple of (W, b) layers; the hidden layers are ReLU, the output softmax with
# the mean cross-entropy; the bookkeeping is the summed loss and hits of each batch.

BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


def _adam_rate(lr: float, t: int) -> float:
    return lr * (1.0 - BETA2**t) ** 0.5 / (1.0 - BETA1**t)


def numpy_adam_train(X, y, params, *, epochs, lr, batch_size, seed):
    """Plain NumPy: the hand-derived backward of any depth and Adam, in place where it saves
    a temporary."""
    layers = [[np.array(p, copy=True) for p in layer] for layer in params]
    moments = [[np.zeros_like(p) for p in layer] for layer in layers]
    squares = [[np.zeros_like(p) for p in layer] for layer in layers]
    n = X.shape[0]
    size = n if batch_size is None else min(batch_size, n)
    rng = np.random.default_rng(seed)
    loss_sum, hits, t = 0.0, 0, 0
    for _ in range(epochs):
        order = rng.permutation(n)
        loss_sum, hits = 0.0, 0
        for batch in _batches(n, size, order):
            idx = order[batch]
            Xb, yb = X.take(idx, axis=0), y.take(idx)
            m = Xb.shape[0]
            rows = np.arange(m)
            inputs = [Xb]
            for W, b in layers[:-1]:
                h = inputs[-1] @ W
                h += b
                np.maximum(h, 0, out=h)
                inputs.append(h)
            W, b = layers[-1]
            z = inputs[-1] @ W
            z += b
            hits += np.count_nonzero(z.argmax(axis=1) == yb)
            z -= z.max(axis=1, keepdims=True)
            delta = np.exp(z)
            sum_exp = delta.sum(axis=1, keepdims=True)
            loss_sum += np.log(sum_exp).sum() - z[rows, yb].sum()
            delta /= sum_exp
            delta[rows, yb] -= 1.0
            delta /= m  # dJ/dz = (p - e_y) / n
            grads: list[Any] = [None] * len(layers)
            for l in range(len(layers) - 1, -1, -1):
                grads[l] = (inputs[l].T @ delta, delta.sum(axis=0))
                if l:
                    delta = delta @ layers[l][0].T
                    delta *= inputs[l] > 0
            t += 1
            rate = _adam_rate(lr, t)
            for layer, grad, mom, sq in zip(layers, grads, moments, squares):
                for p, g, m1, m2 in zip(layer, grad, mom, sq):
                    m1 *= BETA1
                    m1 += (1.0 - BETA1) * g
                    m2 *= BETA2
                    g *= g
                    g *= 1.0 - BETA2
                    m2 += g
                    denom = np.sqrt(m2)
                    denom += EPS
                    np.divide(m1, denom, out=denom)
                    denom *= rate
                    p -= denom
    return tuple(tuple(layer) for layer in layers), loss_sum, hits


def torch_manual_adam_train(X, y, params, *, epochs, lr, batch_size, seed):
    """torch tensors, no autograd: the hand-derived backward with fused in-place ops
    (``addmm``, ``relu_``, ``log_softmax``, ``addcmul_``, ``addcdiv_``)."""
    import torch

    with torch.no_grad():
        layers = [[p.detach().clone() for p in layer] for layer in params]
        moments = [[torch.zeros_like(p) for p in layer] for layer in layers]
        squares = [[torch.zeros_like(p) for p in layer] for layer in layers]
        n = X.shape[0]
        size = n if batch_size is None else min(batch_size, n)
        rng = np.random.default_rng(seed)
        loss_sum = hits = torch.zeros((), dtype=X.dtype, device=X.device)
        t = 0
        for _ in range(epochs):
            loss_sum = torch.zeros((), dtype=X.dtype, device=X.device)
            hits = torch.zeros((), dtype=torch.int64, device=X.device)
            for Xb, yb in _torch_batches(X, y, size, rng):
                m = Xb.shape[0]
                inputs = [Xb]
                for W, b in layers[:-1]:
                    inputs.append(torch.addmm(b, inputs[-1], W).relu_())
                W, b = layers[-1]
                z = torch.addmm(b, inputs[-1], W)
                hits += (z.argmax(dim=1) == yb).sum()
                log_p = torch.log_softmax(z, dim=1)
                loss_sum += torch.nn.functional.nll_loss(log_p, yb, reduction="sum")
                delta = log_p.exp_()
                delta[torch.arange(m, device=X.device), yb] -= 1.0
                delta /= m
                grads: list[Any] = [None] * len(layers)
                for l in range(len(layers) - 1, -1, -1):
                    grads[l] = (inputs[l].T @ delta, delta.sum(dim=0))
                    if l:
                        delta = (delta @ layers[l][0].T).mul_(inputs[l] > 0)
                t += 1
                rate = _adam_rate(lr, t)
                for layer, grad, mom, sq in zip(layers, grads, moments, squares):
                    for p, g, m1, m2 in zip(layer, grad, mom, sq):
                        m1.mul_(BETA1).add_(g, alpha=1.0 - BETA1)
                        m2.mul_(BETA2).addcmul_(g, g, value=1.0 - BETA2)
                        p.addcdiv_(m1, m2.sqrt().add_(EPS), value=-rate)
    return tuple(tuple(layer) for layer in layers), loss_sum, hits


def _jax_adam_epoch() -> tuple[Callable[..., Any], Callable[..., Any]]:
    """A jitted ``lax.scan`` over the minibatches of an epoch: ``jax.grad`` of the mean
    cross-entropy, then Adam."""
    import jax
    import jax.numpy as jnp

    def loss_fn(layers, Xb, yb):
        h = Xb
        for W, b in layers[:-1]:
            h = jax.nn.relu(h @ W + b)
        W, b = layers[-1]
        z = h @ W + b
        log_p = jax.nn.log_softmax(z, axis=1)
        picked = jnp.take_along_axis(log_p, yb[:, None], axis=1)
        return -jnp.mean(picked), (z, -jnp.sum(picked))

    grad_fn = jax.grad(loss_fn, has_aux=True)

    def step(carry, Xb, yb, lr):
        layers, t, m, s = carry
        grads, (z, loss_sum) = grad_fn(layers, Xb, yb)
        t = t + 1.0
        m = jax.tree_util.tree_map(lambda m, g: BETA1 * m + (1.0 - BETA1) * g, m, grads)
        s = jax.tree_util.tree_map(lambda s, g: BETA2 * s + (1.0 - BETA2) * (g * g), s, grads)
        rate = lr * jnp.sqrt(1.0 - BETA2**t) / (1.0 - BETA1**t)
        layers = jax.tree_util.tree_map(
            lambda p, m, s: p - rate * m / (jnp.sqrt(s) + EPS), layers, m, s
        )
        return (layers, t, m, s), loss_sum, jnp.sum(jnp.argmax(z, axis=1) == yb)

    def gather_step(carry, X, y, idx, lr):
        return step(carry, jnp.take(X, idx, axis=0), jnp.take(y, idx, axis=0), lr)

    def epoch(carry, X, y, idx_matrix, lr):
        def body(state, idx):
            carry, loss_sum, hits = state
            carry, batch_loss, batch_hits = gather_step(carry, X, y, idx, lr)
            return (carry, loss_sum + batch_loss, hits + batch_hits), None

        zero = jnp.zeros((), dtype=X.dtype)
        hits = jnp.zeros((), dtype=jax.dtypes.canonicalize_dtype(np.int64))
        return jax.lax.scan(body, (carry, zero, hits), idx_matrix)[0]

    return jax.jit(gather_step), jax.jit(epoch)


def jax_scan_adam_train(X, y, params, *, epochs, lr, batch_size, seed):
    """The whole epoch compiled: ``lax.scan`` over the full minibatches, then the last one."""
    import jax
    import jax.numpy as jnp

    if "adam" not in _JAX_CACHE:
        _JAX_CACHE["adam"] = _jax_adam_epoch()
    step, epoch = _JAX_CACHE["adam"]
    n = X.shape[0]
    size = n if batch_size is None else min(batch_size, n)
    full = (n // size) * size
    rng = np.random.default_rng(seed)
    layers = tuple(tuple(layer) for layer in params)
    zeros = jax.tree_util.tree_map(jnp.zeros_like, layers)
    carry = (layers, jnp.zeros((), dtype=X.dtype), zeros, zeros)
    lr = jnp.asarray(lr, dtype=X.dtype)
    loss_sum: Any = 0
    hits: Any = 0
    for _ in range(epochs):
        order = rng.permutation(n).astype(np.int32)
        loss_sum, hits = jnp.zeros((), dtype=X.dtype), 0
        if full:
            carry, loss_sum, hits = epoch(carry, X, y, order[:full].reshape(-1, size), lr)
        if full < n:
            carry, batch_loss, batch_hits = step(carry, X, y, order[full:], lr)
            loss_sum, hits = loss_sum + batch_loss, hits + batch_hits
    return jax.block_until_ready((carry[0], loss_sum, hits))


#: ``backend -> {implementation name: trainer}`` for Adam on networks of any depth.
NATIVE_ADAM: dict[str, dict[str, Trainer]] = {
    "numpy": {"native numpy": numpy_adam_train},
    "torch": {"native torch manual": torch_manual_adam_train},
    "jax": {"native jax lax.scan": jax_scan_adam_train},
}


# --- the lecture's loop, full batch, as a step-by-step reference --------------------------------


def numpy_lecture_steps(X, y, params, *, steps, lr):
    """``steps`` full-batch steps of the lecture's network written by hand in NumPy: the mean
    loss and the four gradients of each step, then ``theta - lr g`` (what a loop of
    ``loss_and_grad`` and ``sgd_step`` computes), in place where it saves a temporary."""
    W1, b1, W2, b2 = (np.array(p, copy=True) for p in params)
    n = X.shape[0]
    rows = np.arange(n)
    loss = 0.0
    for _ in range(steps):
        h = X @ W1
        h += b1
        np.maximum(h, 0, out=h)
        z = h @ W2
        z += b2
        z -= z.max(axis=1, keepdims=True)
        dz = np.exp(z)
        sum_exp = dz.sum(axis=1, keepdims=True)
        loss = (np.log(sum_exp).sum() - z[rows, y].sum()) / n
        dz /= sum_exp
        dz[rows, y] -= 1.0
        dz /= n  # dJ/dz = (p - e_y) / n
        da = dz @ W2.T
        da *= h > 0  # dJ/da = (dJ/dz W2^T) * relu'(a)
        W2 -= lr * (h.T @ dz)
        b2 -= lr * dz.sum(axis=0)
        W1 -= lr * (X.T @ da)
        b1 -= lr * da.sum(axis=0)
    return (W1, b1, W2, b2), loss


def numpy_lecture_adam_steps(X, y, params, *, steps, lr):
    """:func:`numpy_lecture_steps` with Adam (scikit-learn's formulas) for the update, in
    place: what a loop of ``loss_and_grad`` and ``Adam.step`` computes."""
    weights = [np.array(p, copy=True) for p in params]
    W1, b1, W2, b2 = weights
    moments = [np.zeros_like(p) for p in weights]
    squares = [np.zeros_like(p) for p in weights]
    n = X.shape[0]
    rows = np.arange(n)
    loss = 0.0
    for t in range(1, steps + 1):
        h = X @ W1
        h += b1
        np.maximum(h, 0, out=h)
        z = h @ W2
        z += b2
        z -= z.max(axis=1, keepdims=True)
        dz = np.exp(z)
        sum_exp = dz.sum(axis=1, keepdims=True)
        loss = (np.log(sum_exp).sum() - z[rows, y].sum()) / n
        dz /= sum_exp
        dz[rows, y] -= 1.0
        dz /= n  # dJ/dz = (p - e_y) / n
        dh = dz @ W2.T
        dh *= h > 0
        grads = (X.T @ dh, dh.sum(axis=0), h.T @ dz, dz.sum(axis=0))
        rate = _adam_rate(lr, t)
        for p, g, m1, m2 in zip(weights, grads, moments, squares):
            m1 *= BETA1
            m1 += (1.0 - BETA1) * g
            m2 *= BETA2
            g *= g
            g *= 1.0 - BETA2
            m2 += g
            denom = np.sqrt(m2)
            denom += EPS
            np.divide(m1, denom, out=denom)
            denom *= rate
            p -= denom
    return tuple(weights), loss
