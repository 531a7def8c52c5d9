"""The result container of a two-layer run, on the engine base (:mod:`sims.engine`)."""

from __future__ import annotations

from sims.engine import Trajectory

__all__ = ["TwoLayerTrajectory"]


class TwoLayerTrajectory(Trajectory):
    """One network's run: checkpoints, metrics, parameters and the resumable state.

    Attributes
    ----------
    steps : ndarray of int64, shape (n_rec,)
        Recorded steps t (W_t is the iterate after t updates; 0 = W_0).
    metrics : dict of str -> ndarray of float64, shape (n_rec,)
        (also readable as attributes, ``traj.loss``)

        - ``loss``: L(W_t), the average logistic loss (hard) or the average KL (soft);
        - ``avg_loss``: (1/t) sum_{u < t} L(W_u), the quantity of [JT] Thm 2.2 and
          [M25] (NaN at t = 0);
        - ``accuracy``: fraction of i with labels_i f(x_i; W_t) > 0;
        - ``min_margin``, ``mean_margin``: min_i and mean_i of labels_i f(x_i; W_t);
        - ``lazy``: sqrt(m) max_s ||w_s(t) - w_s(0)|| (bounded by 4 lambda / gamma in
          [JT] Thm 2.2);
        - ``distance``: ||W_t - W_0||_F.
    W : ndarray, shape (m, d)
        Final iterate.
    W0 : ndarray, shape (m, d)
        Initial weights.
    a : ndarray, shape (m,)
        Output signs.
    outputs : ndarray, shape (n,)
        f(x_i; W) at the final iterate.
    state : dict
        ``step`` (int) and ``cum_loss`` (float, sum_{u < step} L(W_u)): with W, W0
        and a, what :meth:`extend` needs.
    config : dict
        JSON-able settings: width, seed, init, kind, lr, temperature,
        project_radius (None for plain GD), n, d, x_scale, data_fingerprint, dtype.
    info : dict
        JSON-able metadata: ``segments`` (per run call: steps, kernel seconds,
        numba and BLAS threads, groups, parallel chunks, ensemble size), versions,
        ``interrupted``.
    """

    FORMAT = "sims.twolayer.TwoLayerTrajectory/1"
    FIELDS = (("steps", "steps"), ("metrics", "metrics"), ("W", "array"), ("W0", "array"), ("a", "array"),
              ("outputs", "array"), ("state", "state"), ("config", "json"), ("info", "json"))

    @property
    def params(self):
        """The final parameters as a TwoLayerParams."""
        from sims.twolayer._model import TwoLayerParams  # noqa: PLC0415

        return TwoLayerParams(W=self.W, a=self.a)

    @property
    def initial_params(self):
        """The initial parameters as a TwoLayerParams."""
        from sims.twolayer._model import TwoLayerParams  # noqa: PLC0415

        return TwoLayerParams(W=self.W0, a=self.a)

    def __repr__(self):
        c = self.config
        return (f"TwoLayerTrajectory(kind={c.get('kind')!r}, width={c.get('width')}, seed={c.get('seed')!r}, "
                f"init={c.get('init')!r}, lr={c.get('lr')!r}, step={self.step}, n_records={len(self)})")

    def extend(self, steps, X, targets, *, labels=None, record=None, threads=None, normalize=False,
               progress=None):
        """Continue for ``steps`` more steps with the same settings (bitwise the same
        as one run of ``self.step + steps`` steps); X and targets must be the run's."""
        from sims.twolayer._train import resume  # noqa: PLC0415

        return resume(self, steps, X, targets, labels=labels, record=record, threads=threads,
                      normalize=normalize, progress=progress)
