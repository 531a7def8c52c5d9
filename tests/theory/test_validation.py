"""The shared input checks: each refuses what it must, with a message naming the argument."""

import math

import numpy as np
import pytest

from theory._validation import (
    as_choice,
    as_generator,
    as_int,
    as_probability_rows,
    as_real,
    as_real_array,
    as_tolerance,
    check_memory,
)

BAD = [
    (lambda: as_int(True, "n"), TypeError, "n must be an integer, got the boolean"),
    (lambda: as_int(2.5, "n"), TypeError, "n must be an integer"),
    (lambda: as_int(-1, "n", low=0), ValueError, "n must be an integer >= 0, got -1"),
    (lambda: as_int(1.5, "steps", allow_integral_float=True), ValueError, "steps must be a whole number"),
    (lambda: as_real(math.nan, "lr", low=0.0, low_open=True), ValueError, "lr must be a finite number > 0, got nan"),
    (lambda: as_real(0.0, "lr", low=0.0, low_open=True), ValueError, "lr must be a finite number > 0"),
    (lambda: as_real(1j, "lr"), TypeError, "lr must be a real number, got the complex"),
    (lambda: as_real("1", "lr"), TypeError, "lr must be a real number"),
    (lambda: as_real(2.0, "p", low=0.0, high=1.0), ValueError, "p must be a finite number in [0, 1], got 2.0"),
    (lambda: as_tolerance(-1), ValueError, "tol must be a finite number > 0, got -1.0"),
    (lambda: as_choice("sgd", "method", ("gd", "ngd")), ValueError, "method must be one of 'gd', 'ngd'; got 'sgd'"),
    (lambda: as_real_array([[1.0, np.nan]], "H"), ValueError, "H[0, 1] = nan"),
    (lambda: as_real_array(np.nan, "x", nonempty=False), ValueError, "x must be finite"),
    (lambda: as_real_array(np.ones(2) * 1j, "H"), TypeError, "H must be real, got complex"),
    (lambda: as_real_array("abc", "H"), TypeError, "H must be a real numeric array"),
    (lambda: as_real_array(np.ones((2, 3)), "H", shape=(None, 4)), ValueError, "H must have shape (any, 4), got (2, 3)"),
    (lambda: as_real_array(np.ones((0, 3)), "H"), ValueError, "H must not be empty"),
    (lambda: as_probability_rows([[0.5, 0.6]], "P"), ValueError, "row 0 sums to 1.1"),
    (lambda: as_probability_rows([[1.5, -0.5]], "P"), ValueError, "P must be nonnegative"),
    (lambda: as_generator(-3), ValueError, "seed must be a nonnegative integer"),
    (lambda: as_generator("x"), TypeError, "seed must be an int >= 0"),
    (lambda: check_memory(2.0**50, "f(n=big)", hint="use a smaller n"), ValueError, "f(n=big) needs about 1 PiB"),
]


@pytest.mark.parametrize("call, exc, fragment", BAD, ids=[b[2][:40] for b in BAD])
def test_bad_values_name_the_argument(call, exc, fragment):
    with pytest.raises(exc) as info:
        call()
    assert fragment in str(info.value)


def test_good_values_come_back_cleaned():
    assert as_int(np.int64(3), "n") == 3 and type(as_int(np.int64(3), "n")) is int
    assert as_int(1e6, "steps", allow_integral_float=True) == 1_000_000
    assert as_real(np.float32(0.5), "lr", low=0.0, low_open=True) == 0.5
    a = as_real_array([[1, 2]], "H", shape=(1, 2))
    assert a.dtype == np.float64 and a.flags.writeable
    assert isinstance(as_generator(np.random.SeedSequence(1)), np.random.Generator)
    p = as_probability_rows([[0.25, 0.75]], "P")
    assert np.array_equal(p, [[0.25, 0.75]])
