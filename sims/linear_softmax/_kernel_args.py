"""The named tuples the linear-softmax kernels take (instead of ~50 positional arguments).

Built by :mod:`sims.linear_softmax._run` from the prepared problem; numba
compiles them as heterogeneous named tuples (fields are read by name inside
the kernels, at no run-time cost). Shapes: m_pad = nc * mc padded contexts,
r the feature dimension (rank of H, or d), V the vocabulary size.
"""

from __future__ import annotations

from collections import namedtuple

#: The data as the kernels see it (read only).
#: dual (bool), use_blas (bool), tiny (bool), nvc, ncc (int: vocabulary and context chunks);
#: Xt_blk (nc, r, mc), X (m_pad, r), K (m_pad, m_pad) or (0, 0), inS (nc, V, mc) bool,
#: sup = (sup_v (m_pad, Smax) int64, sup_p, sup_logp (m_pad, Smax), n_sup (m_pad,) int64),
#: pi_blk (nc, mc), valid (nc, mc) bool, entropy (float), B (d, r) feature basis.
KernelProblem = namedtuple("KernelProblem", "dual use_blas tiny nvc ncc Xt_blk X K inS sup pi_blk valid entropy B")

#: Optimiser settings: method and schedule ids (``_constants``), hp (N_HP,) float64.
KernelHyper = namedtuple("KernelHyper", "method schedule hp")

#: The iterate (updated in place): Wr (V, r) (primal), Wr0 (V, r), A (V, m_pad) (dual),
#: Lt (nc, V, mc) logits, mom1, mom2 (V, r) Adam moments ((0, 0) when unused).
KernelState = namedtuple("KernelState", "Wr Wr0 A Lt mom1 mom2")

#: Work arrays: Rt (V, m_pad) residual, Gb (V, r or m_pad) gradient, stat (3 x (nc, mc) and
#: (nc, N_STAT, mc)), gapj (nc, mc), partial (nvc,), Wc (V, r), gscratch (3, n).
KernelScratch = namedtuple("KernelScratch", "Rt Gb stat gapj partial Wc gscratch")

#: Reference quantities for the metrics: refs (3, V, r) feature parts of W*, W^mm, W~,
#: has_ref (4,) bool, cp (4, 4) Gram of the parts orthogonal to the features, W0p (V, d),
#: s0 (d,), sr0 (r,) column sums, f_blk, f_loc, f_a, f_b (nF,) int64 generators of F,
#: KF (nF, rF), bstar (nF,), wmm_norm (float).
KernelReferences = namedtuple("KernelReferences",
                              "refs has_ref cp W0p s0 sr0 f_blk f_loc f_a f_b KF bstar wmm_norm")

#: Checkpoints: steps (n_rec,) int64, metrics (n_rec, N_METRICS) out, W (n_rec or 0, V, d) out,
#: record_W (bool).
KernelRecording = namedtuple("KernelRecording", "steps metrics W record_W")
