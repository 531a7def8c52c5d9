"""The trajectory of a linear-softmax run (private; public as ``sims.gd.Trajectory``)."""

from __future__ import annotations

import numpy as np

from sims import engine


class Trajectory(engine.Trajectory):
    """Result of :func:`run`: checkpoints, metrics, final W and the resumable state.

    Attributes
    ----------
    steps : ndarray of int64, shape (n_rec,)
        Recorded steps k (W_k is the iterate after k updates; 0 = W_0).
    metrics : dict of str -> ndarray of float64, shape (n_rec,)
        One array per name in :data:`METRIC_NAMES` (also readable as attributes,
        ``traj.gap``); NaN where a reference quantity is unavailable:

        - ``loss``: CE(W_k) = entropy + gap; ``gap``: CE(W_k) - H
          = sum_j pi_j KL(p_j || S(W_k h_j)) (stable form);
        - ``norm``: ||W_k||_F; ``norm_F``: ||P_F W_k||; ``norm_perp``: ||P_perp W_k||;
        - ``cos_mm``: cos(W_k, W^mm); ``cos_mm_corrected``: cos(W_k - W*, W^mm);
          ``cos_perp_mm``: cos(P_perp W_k, W^mm);
        - ``dist_F``: ||P_F(W_k) - W*||; ``perp_residual``:
          ||P_perp(W_k) - log(k) W^mm|| (k >= 1);
        - ``tilde_residual``: ||W_k - W* - log(k) W^mm - W~|| (k >= 1, needs
          ``w_tilde``; for one-hot data W* = 0 and this is Soudry et al.'s
          ||w(t) - w_hat log t - w_tilde||);
        - ``margin``: min_{j, z in S_j, v not in S_j} (e_z - e_v)^T W_k h_j / ||W_k||;
          ``margin_gap``: 1/||W^mm|| - margin;
        - ``colsum_maxabs``: max_i |(1^T W_k)_i|; ``colsum_drift``:
          max_i |(1^T (W_k - W_0))_i| (0 up to rounding for GD/NGD);
        - ``grad_norm``: ||grad CE(W_k)||; ``lr``: the step size eta_k of step k.

        The F-metrics (``norm_F``, ``norm_perp``, ``cos_perp_mm``, ``dist_F``,
        ``perp_residual``) use the Gram matrix of the sum_j (S_j - 1) generators of
        F and are NaN when there are more than 2000 of them.
    W : ndarray, shape (V, d)
        The final iterate W_step.
    W_records : ndarray, shape (n_rec, V, d), or None
        W_k at the checkpoints if ``record_W=True``.
    state : dict
        What a resumed run needs: ``step`` (int), ``W_r0`` (V, r) and
        ``W0_perp`` (V, d) (W_0 split along the feature basis), ``basis`` (d, r)
        or None; primal: ``W_r`` (V, r), ``adam_m``, ``adam_v`` (V, r); dual:
        ``A`` (V, m), ``logits`` (m, V). Here r = rank(H) (or d for Adam).
    config : dict
        JSON-able run settings: ``method``, ``lr``, ``schedule``, ``power``,
        ``lr_max``, ``beta1``, ``beta2``, ``adam_eps``, ``dtype``, ``algorithm``
        ("primal"/"dual"), ``space`` ("rowspace"/"full"), ``rank``, ``shape``
        [m, d, V], ``chunks`` [context, vocabulary], ``use_blas``,
        ``tiny_kernel``, ``data_fingerprint``, ``record_W``.
    W_star, W_mm, w_tilde : ndarray (V, d) or None
        The reference quantities used for the metrics.
    entropy : float
        The entropy lower bound H of the data.
    info : dict
        JSON-able metadata: reference sources, threads, timings per segment,
        numba/numpy versions. ``info["segments"]`` has one entry per call of
        :func:`run` (start, steps, kernel and set-up seconds, numba and BLAS
        threads the kernels ran with, chunks); ``info["interrupted"]`` is True
        for the partial result of an interrupted run (:class:`RunInterrupted`).
    """

    FORMAT = "sims.gd.Trajectory/1"
    FIELDS = (("steps", "steps"), ("metrics", "metrics"), ("W", "array"), ("W_records", "array"),
              ("state", "state"), ("config", "json"), ("W_star", "array"), ("W_mm", "array"),
              ("w_tilde", "array"), ("entropy", "float"), ("info", "json"))

    def __init__(self, steps, metrics, W, state, config, W_star=None, W_mm=None, w_tilde=None,
                 entropy=float("nan"), info=None, W_records=None):
        super().__init__(steps=steps, metrics=metrics, W=W, W_records=W_records, state=state, config=config,
                         W_star=W_star, W_mm=W_mm, w_tilde=w_tilde, entropy=entropy, info=info)

    def __repr__(self):
        c = self.config
        return (f"Trajectory(method={c.get('method')!r}, lr={c.get('lr')!r}, schedule={c.get('schedule')!r}, "
                f"step={self.step}, n_records={len(self)}, shape(m, d, V)={tuple(c.get('shape', ()))})")

    def extend(self, steps, data=None, *, record=None, threads=None, progress=None):
        """Continue this run for ``steps`` more steps with the same settings.

        Bitwise identical to having run ``self.step + steps`` steps at once.
        ``data`` may be omitted if this trajectory was produced in this process
        by :func:`run` (it keeps a reference to its data).

        Raises
        ------
        ValueError
            If ``data`` is omitted for a trajectory read back with :meth:`from_dict`.
        """
        from sims.linear_softmax._run import run  # noqa: PLC0415 (run imports this module)

        if data is None:
            data = self._data
        if data is None:
            raise ValueError("data is required to extend a trajectory read back with from_dict")
        c = self.config
        return run(data, steps, c["lr"], c["method"], schedule=c["schedule"], power=c["power"],
                   lr_max=c["lr_max"], beta1=c["beta1"], beta2=c["beta2"], adam_eps=c["adam_eps"],
                   record=record, record_W=c["record_W"], resume=self, threads=threads,
                   dtype=np.dtype(c["dtype"]).type, progress=progress)
