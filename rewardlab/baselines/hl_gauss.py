"""HL-Gauss: value learning as classification (Farebrother et al., 2024, "Stop Regressing").

The critic outputs ``n_bins`` logits over bins that tile ``[v_min, v_max]``. A scalar target ``y``
becomes a distribution over the bins: the Gaussian ``N(y, sigma^2)`` with ``sigma = 0.75 * bin
width`` (the paper's recommended ratio), integrated over each bin (differences of its CDF, through
``erf``) and normalised over the support, so the mass outside ``[v_min, v_max]`` is dropped. The
loss is the cross-entropy between that distribution and the critic's softmax; the value is the
expected bin centre, ``softmax(logits) . centres``.

Inside the range the target distribution's mean is ``y`` up to the truncation (closed form:
the mean of the Gaussian truncated to the support) and the binning error (below ``1e-5`` bin
widths at this sigma); near an edge it is pulled inward, and a ``y`` outside the range is clamped
to it first (far outside, no mass would be left to normalise). Set the range to cover the returns.

Classes: :class:`HLGauss`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from rewardlab.errors import InvalidParameter

__all__ = ["HLGauss", "SIGMA_RATIO"]

#: sigma / bin width: 0.75 spreads each target over about six bins (the paper's choice, its Fig. 9).
SIGMA_RATIO = 0.75


class HLGauss(nn.Module):
    """The HL-Gauss transform between scalar values and distributions over `n_bins` bins of ``[v_min, v_max]``.

    Args:
        v_min: the low end of the support.
        v_max: the high end (greater than `v_min`).
        n_bins: the number of bins (at least 2).
        sigma_ratio: the Gaussian's standard deviation in bin widths.

    Raises:
        InvalidParameter: a bound that is not a finite number, ``v_min >= v_max``, fewer than 2 bins.

    Example:
        >>> import torch
        >>> hl = HLGauss(0.0, 10.0, n_bins=10)
        >>> probs = hl.target(torch.tensor([5.0]))
        >>> [round(p, 4) for p in probs[0].tolist()]
        [0.0, 0.0, 0.0038, 0.0874, 0.4088, 0.4088, 0.0874, 0.0038, 0.0, 0.0]
        >>> round(float(hl.value(torch.log(probs))), 4)  # the expected bin centre of the target
        5.0
        >>> round(float(hl.loss(torch.log(probs), torch.tensor([5.0]))), 4)  # cross-entropy = the target's entropy
        1.2003
    """

    def __init__(self, v_min: float, v_max: float, n_bins: int, sigma_ratio: float = SIGMA_RATIO):
        super().__init__()
        for name, value in (("v_min", v_min), ("v_max", v_max)):
            # The support's edges and centres are computed from these; NaN or inf would make every value NaN.
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InvalidParameter(f"`{name}` must be a finite number. Received {value!r}")
        if not v_min < v_max:
            raise InvalidParameter(f"`v_min` must be less than `v_max`. Received v_min={v_min!r}, v_max={v_max!r}")
        # One bin has no shape to learn; the value would be its centre whatever the logits.
        if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 2:
            raise InvalidParameter(f"`n_bins` must be an integer of at least 2. Received {n_bins!r}")
        if isinstance(sigma_ratio, bool) or not isinstance(sigma_ratio, (int, float)) or not sigma_ratio > 0:
            raise InvalidParameter(f"`sigma_ratio` must be positive. Received {sigma_ratio!r}")
        self.v_min, self.v_max, self.n_bins = float(v_min), float(v_max), n_bins
        edges = torch.linspace(self.v_min, self.v_max, n_bins + 1, dtype=torch.float64)
        self.sigma = sigma_ratio * (self.v_max - self.v_min) / n_bins
        self.register_buffer("edges", edges.float())
        self.register_buffer("centres", ((edges[:-1] + edges[1:]) / 2).float())

    def target(self, y: torch.Tensor) -> torch.Tensor:
        """``(...,)`` scalar targets -> ``(..., n_bins)`` probabilities (each row sums to 1)."""
        y = y.clamp(self.v_min, self.v_max).unsqueeze(-1)
        cdf = torch.erf((self.edges - y) / (math.sqrt(2.0) * self.sigma))
        probs = cdf[..., 1:] - cdf[..., :-1]
        return probs / (cdf[..., -1:] - cdf[..., :1])

    def value(self, logits: torch.Tensor) -> torch.Tensor:
        """``(..., n_bins)`` logits -> ``(...,)`` values: the expected bin centre."""
        return torch.softmax(logits, dim=-1) @ self.centres

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy between ``target(y)`` and ``softmax(logits)`` (the target carries no gradient)."""
        return -(self.target(y.detach()) * torch.log_softmax(logits, dim=-1)).sum(-1).mean()
