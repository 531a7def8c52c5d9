"""exp in float64 that numba can inline and vectorise (private).

See :func:`exp_scalar`. The numba SVML path is not available (the pip llvmlite is
not SVML-patched), so libm's exp would be a scalar call per element.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

_LN2HI = 6.93147180369123816490e-01
_LN2LO = 1.90821492927058770002e-10
_INVLN2 = 1.44269504088896338700e00
_C2 = 1.0 / 2.0
_C3 = 1.0 / 6.0
_C4 = 1.0 / 24.0
_C5 = 1.0 / 120.0
_C6 = 1.0 / 720.0
_C7 = 1.0 / 5040.0
_C8 = 1.0 / 40320.0
_C9 = 1.0 / 362880.0
_C10 = 1.0 / 3628800.0
_C11 = 1.0 / 39916800.0
_C12 = 1.0 / 479001600.0
_C13 = 1.0 / 6227020800.0


@intrinsic
def _fma(typingctx, a, b, c):
    """Fused multiply-add a*b + c with one rounding (llvm.fma.f64)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        d = ir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.fma", [d], ir.FunctionType(d, [d, d, d]))
        return builder.call(fn, args)

    return sig, codegen


# ----------------------------------------------------------------------------
# exp


@intrinsic
def _bits_to_f64(typingctx, i):
    """Reinterpret the bits of an int64 as a float64 (llvm bitcast)."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@intrinsic
def _f64_to_bits(typingctx, x):
    """Reinterpret the bits of a float64 as an int64 (llvm bitcast)."""
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


# 1.5 * 2^52: t = x / ln2 + _SHIFT lies in [2^52, 2^53), where the spacing is 1,
# so t is rounded to an integer (to nearest) and its low bits hold that integer
_SHIFT = 6755399441055744.0
_SHIFT_BITS = int(np.float64(_SHIFT).view(np.int64))


@njit(cache=True, error_model="numpy", inline="always")
def exp_scalar(x):
    """exp(x) in float64, within 2 ulp of the correctly rounded value.

    Cody-Waite reduction x = k ln2 + r, |r| <= ln2/2 (k = x/ln2 rounded to
    nearest by adding 1.5 * 2^52, which also leaves k in the low bits, so no
    rounding or float-to-int instruction is needed), a degree-13 Taylor
    polynomial in Estrin form with FMAs (truncation < 1e-17), and the scale 2^k
    applied as two exact powers of two built from their bit patterns, so the
    subnormal range is rounded once; 0 below -745.2, inf above 709.8, NaN stays
    NaN. Unlike libm's exp it is inlined and vectorises (no fastmath needed).
    Arguments outside (-746, 710) (and NaN) are mapped to 0, inf (NaN) by a
    final select, not by clamping the input, which keeps the range check off
    the dependency chain (the polynomial's result is exactly what it was with
    a clamped input: 0 at -746 and inf at 710).
    """
    t = _fma(x, _INVLN2, _SHIFT)
    k = t - _SHIFT
    r = _fma(-k, _LN2LO, _fma(-k, _LN2HI, x))
    r2 = r * r
    r4 = r2 * r2
    r8 = r4 * r4
    a0 = _fma(1.0, r, 1.0)
    a1 = _fma(_C3, r, _C2)
    a2 = _fma(_C5, r, _C4)
    a3 = _fma(_C7, r, _C6)
    a4 = _fma(_C9, r, _C8)
    a5 = _fma(_C11, r, _C10)
    a6 = _fma(_C13, r, _C12)
    b0 = _fma(a1, r2, a0)
    b1 = _fma(a3, r2, a2)
    b2 = _fma(a5, r2, a4)
    d0 = _fma(b1, r4, b0)
    d1 = _fma(a6, r4, b2)
    p = _fma(d1, r8, d0)
    ki = _f64_to_bits(t) - _SHIFT_BITS
    k1 = ki >> 1
    y = (p * _bits_to_f64((k1 + 1023) << 52)) * _bits_to_f64((ki - k1 + 1023) << 52)
    in_range = (x > -746.0) & (x < 710.0)
    return y if in_range else (0.0 if x <= -746.0 else x + np.inf)


@njit(cache=True, error_model="numpy")
def exp_shift_row(src, shift, dst):
    """dst[j] = exp(src[j] - shift[j]) (see :func:`exp_scalar`), contiguous 1-D arrays."""
    for j in range(src.shape[0]):
        dst[j] = exp_scalar(np.float64(src[j]) - np.float64(shift[j]))
