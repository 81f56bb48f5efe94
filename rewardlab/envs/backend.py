"""The ``backend=`` and ``device=`` arguments of rewardlab's batched envs (gridhack, coopetition), checked once.

``backend="numpy"`` (the default) serves the Gymnasium fronts on the host; ``backend="torch"`` keeps the
env's state on a torch device (``device=``: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or a ``torch.device``;
default CPU), so observations, rewards, flags and info arrays come out as tensors on that device.

Functions: :func:`resolve_backend`.
"""

from __future__ import annotations

from typing import Any

from rewardlab.errors import InvalidParameter, MissingExtraError

__all__ = ["BACKENDS", "resolve_backend"]

BACKENDS = ("numpy", "torch")


def resolve_backend(backend: Any, device: Any) -> tuple[str, Any]:
    """``(backend, device)`` checked: the device a ``torch.device`` for torch, None for numpy.

    Example:
        >>> resolve_backend("numpy", None)
        ('numpy', None)
        >>> resolve_backend("torch", "cpu")
        ('torch', device(type='cpu'))
        >>> resolve_backend("jax", None)
        Traceback (most recent call last):
        ...
        rewardlab.errors.InvalidParameter: `backend` must be one of ('numpy', 'torch'). Received 'jax'
        >>> resolve_backend("numpy", "cpu")
        Traceback (most recent call last):
        ...
        rewardlab.errors.InvalidParameter: `device` is for backend='torch'; the numpy backend runs on the host. Received device='cpu'
    """
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise InvalidParameter(f"`backend` must be one of {BACKENDS}. Received {backend!r}")
    if backend == "numpy":
        if device is not None:  # silently ignoring it would leave a user believing the env runs on a GPU
            raise InvalidParameter(f"`device` is for backend='torch'; the numpy backend runs on the host. "
                                   f"Received device={device!r}")
        return backend, None
    try:
        import torch
    except ImportError as e:
        raise MissingExtraError("backend='torch'", "train", e) from e
    try:
        dev = torch.device("cpu" if device is None else device)
    except (RuntimeError, TypeError, ValueError) as e:
        raise InvalidParameter(f"`device` must name a torch device ('cpu', 'cuda', 'cuda:0', ...). "
                               f"Received {device!r} ({e})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidParameter(f"`device` {str(dev)!r} needs CUDA, which this torch build or machine does not have "
                               f"(torch {torch.__version__}); use device='cpu'")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise InvalidParameter(f"`device` {str(dev)!r} does not exist: this machine has "
                               f"{torch.cuda.device_count()} CUDA device(s)")
    if dev.type == "cuda" and dev.index is None:  # tensors report their index: "cuda" would not equal their device
        dev = torch.device("cuda", torch.cuda.current_device())
    return backend, dev
