r"""Teachers: the soft targets p_i = sigma(g(x_i) / tau_T) of distillation runs.

A teacher is held as its logits g(x_i) on the training points (plus, for a trained
network, its parameters, to evaluate it elsewhere). Two sources
(paper, Sec. 'Soft- versus hard-label training of two-layer ReLU networks'):

* :func:`kernel_teacher`: the kernel-limit (NTK) teacher, from any predictor g,
  a callable or an object with ``decision_function`` / ``predict_logits``; this is
  the hook for a predictor built from a :mod:`theory.ntk` margin solution
  (``theory.ntk.ntk_margin`` returns the margin and dual weights but, so far, no
  predictor to evaluate);
* :func:`wide_network_teacher`: a width-M two-layer net trained on hard labels with
  :func:`sims.twolayer.run` (the practical knowledge-distillation setting).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from collections.abc import Mapping

from sims.twolayer._model import TwoLayerParams, check_inputs, check_labels, forward
from theory._validation import as_real, as_real_array, check_shape

__all__ = ["Teacher", "kernel_teacher", "teacher_from_logits", "wide_network_teacher"]


@dataclass(frozen=True)
class Teacher:
    r"""Teacher logits on the training points.

    Attributes
    ----------
    logits : ndarray, shape (n,)
        g(x_i).
    temperature : float
        tau_T > 0; the soft targets are :math:`p_i = \sigma(g(x_i)/\tau_T)`.
    source : str
        Where the logits came from (``"logits"``, ``"kernel"``, ``"wide-network"``).
    params : TwoLayerParams or None
        The teacher network (wide-network teachers only).
    info : dict
        JSON-able provenance (width, seed, steps, lr, final loss ...).

    The fields are checked on construction: finite logits of shape (n,), n >= 1, a
    finite temperature > 0, a nonempty source string, params None or a
    :class:`TwoLayerParams`, info a dict (copied).
    """

    logits: np.ndarray
    temperature: float = 1.0
    source: str = "logits"
    params: TwoLayerParams | None = field(default=None, repr=False, compare=False)
    info: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "logits", as_real_array(self.logits, "logits", ndim=1, copy=False))
        object.__setattr__(self, "temperature", as_real(self.temperature, "temperature", low=0.0, low_open=True))
        object.__setattr__(self, "source", _as_source(self.source))
        if self.params is not None and not isinstance(self.params, TwoLayerParams):
            raise TypeError(f"params must be None or a TwoLayerParams, got {type(self.params).__name__}")
        if not isinstance(self.info, Mapping):
            raise TypeError(f"info must be a dict (JSON-able provenance), got {type(self.info).__name__}")
        object.__setattr__(self, "info", dict(self.info))

    @property
    def probabilities(self) -> np.ndarray:
        r""":math:`p_i = \sigma(g_i/\tau_T)`, shape (n,)."""
        t = self.logits / self.temperature
        return np.exp(-np.logaddexp(0.0, -t))

    def with_temperature(self, temperature) -> Teacher:
        """The same teacher at another temperature."""
        return Teacher(self.logits, as_real(temperature, "temperature", low=0.0, low_open=True), self.source,
                       self.params, dict(self.info))

    def predict_logits(self, X, *, normalize=False) -> np.ndarray:
        """g(x) on new inputs (wide-network teachers only), shape (n_new,)."""
        if self.params is None:
            raise ValueError(f"a teacher of source {self.source!r} holds only its training logits; "
                             "evaluate its predictor on new points directly")
        return forward(self.params, X, normalize=normalize)


def _as_source(source) -> str:
    if not isinstance(source, str):
        raise TypeError(f"source must be a string naming where the logits came from, got {source!r} "
                        f"of type {type(source).__name__}")
    if not source:
        raise ValueError("source must be a nonempty string naming where the logits came from, got ''")
    return source


def teacher_from_logits(logits, temperature=1.0, *, source="logits") -> Teacher:
    """A Teacher from its logits g(x_i) on the training points (finite, shape (n,))."""
    g = as_real_array(logits, "logits", ndim=1)
    return Teacher(g, as_real(temperature, "temperature", low=0.0, low_open=True), _as_source(source))


def kernel_teacher(predictor, X, *, temperature=1.0, scale=1.0, normalize=False) -> Teacher:
    r"""The kernel-limit teacher :math:`g(x) = c\,h(x)` from a predictor h.

    Parameters
    ----------
    predictor : callable or object
        h: a callable ``h(X) -> (n,)``, or an object with ``decision_function(X)``
        (e.g. a fitted scikit-learn kernel SVM on the first-layer NTK K_1) or
        ``predict_logits(X)``. A predictor from a :mod:`theory.ntk` margin solution
        (:math:`h(x) = \frac1K\sum_k\langle v_k^*, x\,1[\langle z_k, x\rangle > 0]\rangle`,
        the paper's soft/hard section) plugs in here once that module provides one.
    X : array_like, shape (n, d)
        Training inputs (||x|| <= 1, or ``normalize``).
    temperature : float
        tau_T > 0.
    scale : float
        c > 0, e.g. 1/gamma so that y_i g(x_i) >= 1 (paper, Sec. 'Soft- versus hard-label training of two-layer
        ReLU networks').

    Returns
    -------
    Teacher
    """
    X, _ = check_inputs(X, normalize)
    scale = as_real(scale, "scale", low=0.0, low_open=True)
    if callable(predictor):
        h = predictor(X)
    elif hasattr(predictor, "decision_function"):
        h = predictor.decision_function(X)
    elif hasattr(predictor, "predict_logits"):
        h = predictor.predict_logits(X)
    else:
        raise TypeError("predictor must be a callable h(X) or have a decision_function(X) or predict_logits(X) "
                        f"method, got {type(predictor).__name__}")
    h = as_real_array(h, "predictor(X)")
    h = h.reshape(-1) if h.ndim == 2 and 1 in h.shape else h
    check_shape(h, "predictor(X)", (X.shape[0],))
    return Teacher(scale * h, as_real(temperature, "temperature", low=0.0, low_open=True), "kernel",
                   info={"scale": scale})


def wide_network_teacher(X, labels, width, steps, lr, *, seed=0, init="standard", temperature=1.0,
                         normalize=False, threads=None) -> Teacher:
    """A width-M network trained on hard labels by GD; its logits are the teacher's.

    Parameters
    ----------
    X : array_like, shape (n, d)
    labels : array_like, shape (n,)
        y_i in {-1, +1}.
    width : int
        M, the teacher's width.
    steps : int
        GD steps.
    lr : float
        Step size.
    seed, init : as in :func:`sims.twolayer.run`
    temperature : float
        tau_T > 0 of the soft targets.

    Returns
    -------
    Teacher
        ``source="wide-network"``, with ``params`` (to evaluate it on test points)
        and ``info`` (width, seed, init, steps, lr, final loss and accuracy).
    """
    from sims.twolayer._train import run  # noqa: PLC0415

    temperature = as_real(temperature, "temperature", low=0.0, low_open=True)  # before the training, not after
    X, scale = check_inputs(X, normalize)
    y = check_labels(labels, X.shape[0])
    traj = run(X, y, width, steps, lr, kind="hard", init=init, seed=seed, record=[0], threads=threads)
    info = {"width": int(width), "seed": traj.config["seed"], "init": init, "steps": traj.step, "lr": float(lr),
            "final_loss": float(traj.loss[-1]), "final_accuracy": float(traj.accuracy[-1]), "x_scale": scale}
    return Teacher(traj.outputs.copy(), as_real(temperature, "temperature", low=0.0, low_open=True),
                   "wide-network", traj.params, info)
