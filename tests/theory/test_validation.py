"""The shared input checks: each refuses what it must, with a message naming the argument."""

import math

import numpy as np
import pytest

from theory._validation import (
    as_bool,
    as_bool_array,
    as_choice,
    as_generator,
    as_index_array,
    as_int,
    as_probability_rows,
    as_real,
    as_real_array,
    as_text,
    as_tolerance,
    check_callable,
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
    (lambda: as_bool("yes", "polish"), TypeError, "polish must be True or False, got 'yes'"),
    (lambda: as_bool(1, "polish"), TypeError, "polish must be True or False, got 1 of type int"),
    (lambda: as_text(3, "desc"), TypeError, "desc must be a string, got 3 of type int"),
    (lambda: as_text("", "what", nonempty=True), ValueError, "what must be a non-empty string"),
    (lambda: check_callable("f", "advance", "a function advance(k, n)"), TypeError,
     "advance must be a function advance(k, n), got 'f'"),
    (lambda: as_index_array([0.0, 1.0], "i"), TypeError, "i must be an array of integers, got dtype float64"),
    (lambda: as_index_array(None, "i"), TypeError, "i must be an array of integers, got None"),
    (lambda: as_index_array([[0, 1]], "i"), ValueError, "i must be 1-dimensional, got shape (1, 2)"),
    (lambda: as_index_array([0, 5, 1], "i", high=3), ValueError, "i must hold indices 0 <= i < 3; i[1] = 5"),
    (lambda: as_index_array([0, -1], "i"), ValueError, "i[1] = -1"),
    (lambda: as_index_array([], "i", nonempty=True), ValueError, "i must not be empty"),
    (lambda: as_bool_array([0, 1], "active"), TypeError, "active must be a boolean array, got dtype int64"),
    (lambda: as_bool_array(np.ones((2, 3), bool), "S", shape=(2, 2)), ValueError, "S must have shape (2, 2), got (2, 3)"),
    (lambda: as_bool_array(np.ones(0, bool), "active"), ValueError, "active must not be empty"),
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


def test_new_checks_return_cleaned_values():
    assert as_bool(np.bool_(True), "polish") is True
    assert as_text("abc", "desc") == "abc"
    f = len
    assert check_callable(f, "advance") is f
    i = as_index_array(np.array([2, 0], dtype=np.int32), "i", high=3)
    assert i.dtype == np.int64 and i.tolist() == [2, 0]
    assert as_index_array([], "i").dtype == np.int64  # an empty list is an empty index set
    m = as_bool_array([[True, False]], "S", ndim=2)
    assert m.dtype == bool and m.shape == (1, 2)
