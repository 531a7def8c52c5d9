"""Run settings and state of the linear-softmax engine (private).

The state dict (``Trajectory.state``) is what a resumed run needs; the kernel
tuples (:mod:`sims.linear_softmax._kernel_args`) are built from it and read
back after the kernel.
"""

from __future__ import annotations

import warnings

import numpy as np

from sims.linear_softmax._constants import (
    HP_ADAM_EPS, HP_BETA1, HP_BETA2, HP_LR, HP_LR_MAX, HP_POWER, N_HP, N_STAT,
)
from sims.linear_softmax._drivers import init_logits
from sims.linear_softmax._kernel_args import KernelScratch, KernelState
from sims.linear_softmax._problem import kmatmul
from theory._validation import as_choice, as_real, as_tolerance

METHODS = ("gd", "ngd", "adam")
SCHEDULES = ("constant", "power", "loss")
ALGORITHMS = ("auto", "primal", "dual")


def validate_settings(lr, method, schedule, power, lr_max, beta1, beta2, adam_eps, dtype, algorithm):
    """The JSON-able optimiser settings of a run, checked (TypeError/ValueError naming the argument)."""
    method = as_choice(method, "method", METHODS)
    schedule = as_choice(schedule, "schedule", SCHEDULES)
    algorithm = as_choice(algorithm, "algorithm", ALGORITHMS)
    lr = as_real(lr, "lr", low=0.0, low_open=True)
    power = as_real(power, "power", low=0.0, low_open=True)
    lr_max = as_real(lr_max, "lr_max", low=0.0, low_open=True, allow_inf=True)
    beta1 = as_real(beta1, "beta1", low=0.0, high=1.0, high_open=True)
    beta2 = as_real(beta2, "beta2", low=0.0, high=1.0, high_open=True)
    adam_eps = as_tolerance(adam_eps, "adam_eps")
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be np.float64 or np.float32, got {dtype!r}") from exc
    if dt not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ValueError(f"dtype must be np.float64 or np.float32, got {dtype!r}")
    if dt == np.float32:
        warnings.warn(
            "dtype=float32: weights, logits, residuals and gradients are stored in float32 "
            "(about 7 significant digits). The in-support residual is an O(1/k) difference of O(1) "
            "numbers, so float32 loses it after ~1e6 steps, leaks ~1e-7 per step into F-perp and "
            "saturates the softmax at logit gaps ~17 (paper, Sec. 'Numerics and solvers'); use float64 for results.",
            UserWarning, stacklevel=4)
    return dict(method=method, schedule=schedule, lr=lr, power=power, lr_max=lr_max, beta1=beta1,
                beta2=beta2, adam_eps=adam_eps, dtype=dt.name, algorithm=algorithm)


def hp_vector(cfg):
    """The kernels' hyper-parameter vector (N_HP,) from a settings dict."""
    hp = np.zeros(N_HP)
    hp[HP_LR] = cfg["lr"]
    hp[HP_POWER] = cfg["power"]
    hp[HP_LR_MAX] = cfg["lr_max"]
    hp[HP_BETA1] = cfg["beta1"]
    hp[HP_BETA2] = cfg["beta2"]
    hp[HP_ADAM_EPS] = cfg["adam_eps"]
    return hp


def new_state(prob, W0):
    V, r, d = prob.V, prob.r, prob.d
    if prob.space == "full":
        Wr0 = W0.copy()
        W0p = np.zeros((V, d))
    else:
        Wr0 = kmatmul(W0, prob.B)
        W0p = W0 - kmatmul(Wr0, prob.B.T)
    st = {"step": 0, "W0_perp": W0p, "basis": prob.B if prob.space == "rowspace" else None,
          "W_r0": Wr0}
    if prob.algorithm == "dual":
        st["A"] = np.zeros((V, prob.m))
        Lt = np.zeros((prob.nc, V, prob.mc), dtype=prob.dtype)
        init_logits(Wr0.astype(prob.dtype), prob.Xt_blk, Lt, False)
        st["logits"] = unblock(Lt, prob.m)
    else:
        st["W_r"] = Wr0.copy()
    if prob.algorithm == "primal":
        st["adam_m"] = np.zeros((V, r))
        st["adam_v"] = np.zeros((V, r))
    return st


def unblock(Lt, m):
    nc, V, mc = Lt.shape
    return np.ascontiguousarray(Lt.transpose(0, 2, 1).reshape(nc * mc, V)[:m])


def block(L, nc, mc, dtype):
    m, V = L.shape
    Lp = np.zeros((nc * mc, V), dtype=dtype)
    Lp[:m] = L
    return np.ascontiguousarray(Lp.reshape(nc, mc, V).transpose(0, 2, 1))


def kernel_state(prob, st):
    """Working arrays (kernel dtype, padded) from a state dict."""
    dt = prob.dtype
    V, r = prob.V, prob.r
    Wr0 = np.ascontiguousarray(st["W_r0"], dtype=dt)
    if prob.algorithm == "dual":
        Wr = np.zeros((V, r), dtype=dt)
        A = np.zeros((V, prob.m_pad), dtype=dt)
        A[:, :prob.m] = st["A"]
        Lt = block(np.asarray(st["logits"]), prob.nc, prob.mc, dt)
        mom1 = np.zeros((0, 0), dtype=dt)
        mom2 = np.zeros((0, 0), dtype=dt)
    else:
        Wr = np.array(st["W_r"], dtype=dt)
        A = np.zeros((0, 0), dtype=dt)
        Lt = np.zeros((prob.nc, V, prob.mc), dtype=dt)
        mom1 = np.array(st["adam_m"], dtype=dt)
        mom2 = np.array(st["adam_v"], dtype=dt)
    return KernelState(Wr, Wr0, A, Lt, mom1, mom2)


def state_from_kernel(prob, st_old, step, ks):
    """The state dict after the kernel advanced ``ks`` (a KernelState) to ``step``."""
    Wr, A, Lt, mom1, mom2 = ks.Wr, ks.A, ks.Lt, ks.mom1, ks.mom2
    st = {"step": int(step), "W0_perp": st_old["W0_perp"], "basis": st_old["basis"], "W_r0": st_old["W_r0"]}
    if prob.algorithm == "dual":
        st["A"] = np.ascontiguousarray(A[:, :prob.m])
        st["logits"] = unblock(Lt, prob.m)
    else:
        st["W_r"] = Wr.copy()
        st["adam_m"] = mom1.copy()
        st["adam_v"] = mom2.copy()
    return st


def final_W(prob, st):
    if prob.algorithm == "dual":
        Wc = np.asarray(st["W_r0"], dtype=np.float64) - kmatmul(st["A"], prob.X[:prob.m].astype(np.float64))
    else:
        Wc = np.asarray(st["W_r"], dtype=np.float64)
    if prob.space == "full":
        return Wc + st["W0_perp"]
    return kmatmul(Wc, prob.B.T) + st["W0_perp"]


def scratch(prob):
    dt = prob.dtype
    V, r, m_pad, nc, mc = prob.V, prob.r, prob.m_pad, prob.nc, prob.mc
    gcols = r if prob.algorithm == "primal" else m_pad
    lead = ()
    return KernelScratch(
        Rt=np.zeros(lead + (V, m_pad), dtype=dt),
        Gb=np.zeros(lead + (V, gcols), dtype=dt),
        # (m_S, s_S, eps, other per-context constants): separate allocations
        stat=tuple(np.zeros(lead + (nc, mc)) for _ in range(3)) + (np.zeros(lead + (nc, N_STAT, mc)),),
        gapj=np.zeros(lead + (nc, mc)),
        partial=np.zeros(lead + (prob.nvc,)),
        Wc=np.zeros(lead + (V, r), dtype=dt),
        gscratch=np.zeros(lead + (3, max(prob.f_j.size, r, V, 1))),
    )
