"""Bad input to sims.twolayer gets a clear error naming the argument; teachers."""

from __future__ import annotations

import numpy as np
import pytest

from sims import twolayer as tl
from tests.helpers.numeric import rel_err


@pytest.fixture
def data(rng):
    X = rng.standard_normal((30, 4))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.where(X[:, 0] > 0, 1.0, -1.0)
    return X, y


def test_bad_labels_and_targets(data):
    X, y = data
    bad = y.copy()
    bad[3] = 0.5
    with pytest.raises(ValueError, match=r"targets must be labels in \{-1, \+1\}.*targets\[3\] = 0.5"):
        tl.run(X, bad, 8, 1, 1.0)
    p = np.full(30, 0.5)
    p[7] = 1.2
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\].*targets\[7\] = 1.2"):
        tl.run(X, p, 8, 1, 1.0, kind="soft")
    with pytest.raises(ValueError, match=r"targets must have shape \(30,\)"):
        tl.run(X, y[:-1], 8, 1, 1.0)
    with pytest.raises(ValueError, match="labels must be in"):
        tl.run(X, np.full(30, 0.5), 8, 1, 1.0, kind="soft", labels=np.zeros(30))
    with pytest.raises(ValueError, match="kind must be one of"):
        tl.run(X, y, 8, 1, 1.0, kind="mse")


def test_input_norms_and_finiteness(data):
    X, y = data
    X2 = X.copy()
    X2[5] *= 3.0
    with pytest.raises(ValueError, match=r"row 5 has norm 3.*normalize=True"):
        tl.run(X2, y, 8, 1, 1.0)
    traj = tl.run(X2, y, 8, 1, 1.0, normalize=True)
    assert traj.config["x_scale"] == pytest.approx(3.0, rel=1e-14)
    X3 = X.copy()
    X3[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"X must be finite.*X\[2, 1\]"):
        tl.run(X3, y, 8, 1, 1.0)
    with pytest.raises(ValueError, match="X must be 2-dimensional"):
        tl.run(X[0], y, 8, 1, 1.0)
    with pytest.raises(TypeError, match="X must be"):
        tl.run("abc", y, 8, 1, 1.0)


@pytest.mark.parametrize("kwargs,exc,pattern", [
    (dict(width=0), ValueError, r"width must be an integer >= 1, got 0"),
    (dict(width=2.5), TypeError, r"width must be an integer"),
    (dict(lr=0.0), ValueError, r"lr must be a finite number > 0.*got 0.0"),
    (dict(lr=-1), ValueError, r"lr must be"),
    (dict(lr=np.inf), ValueError, r"lr must be"),
    (dict(steps=-1), ValueError, r"steps must be an integer >= 0"),
    (dict(temperature=0.0), ValueError, r"temperature must be a finite number > 0"),
    (dict(project_radius=-1.0), ValueError, r"project_radius must be a finite number > 0"),
    (dict(init="ntk"), ValueError, r"init must be one of 'standard', 'coupled'"),
    (dict(seed=-3), ValueError, r"seed must be an int >= 0"),
    (dict(seed="a"), TypeError, r"seed must be an int >= 0"),
    (dict(width=7, init="coupled"), ValueError, r"width must be even"),
    (dict(threads=0), ValueError, r"threads must be an integer >= 1"),
    (dict(record=[5, 2000]), ValueError, r"record steps must lie in \[0, 10\]"),
])
def test_bad_settings(data, kwargs, exc, pattern):
    X, y = data
    args = dict(width=8, steps=10, lr=1.0)
    args.update(kwargs)
    width, steps, lr = args.pop("width"), args.pop("steps"), args.pop("lr")
    with pytest.raises(exc, match=pattern):
        tl.run(X, y, width, steps, lr, **args)


def test_bad_params_and_ensemble_grid(data):
    X, y = data
    p = tl.init_two_layer(4, 6, 0)
    with pytest.raises(ValueError, match=r"params.W must have shape \(m, 5\)"):
        tl.forward(p, np.ones((3, 5)) / 5)
    # refused when the parameters are built, before forward is called
    with pytest.raises(ValueError, match=r"a must hold output signs in \{-1, \+1\}; a\[0\] = 0.5"):
        tl.forward(tl.TwoLayerParams(p.W, p.a * 0.5), X)
    with pytest.raises(TypeError, match="params must be a TwoLayerParams"):
        tl.loss_and_grad((p.W, p.a), X, y)
    with pytest.raises(ValueError, match=r"widths\[1\] must be an integer >= 1"):
        tl.run_ensemble(X, y, [4, 0], [0], 1, 1.0)
    with pytest.raises(ValueError, match="seeds must not be empty"):
        tl.run_ensemble(X, y, [4], [], 1, 1.0)
    ens = tl.run_ensemble(X, y, [4, 6], [0, 1], 2, 1.0)
    with pytest.raises(ValueError, match="no member with seed=5"):
        ens.member(5, 4)


def test_teacher_targets_equal_probability_targets(data):
    X, y = data
    g = 3.0 * X[:, 0] + X[:, 1]
    teacher = tl.teacher_from_logits(g, temperature=2.0)
    np.testing.assert_allclose(teacher.probabilities, 1 / (1 + np.exp(-g / 2.0)), rtol=1e-15)
    a = tl.run(X, teacher, 16, 200, 1.0, kind="soft", seed=1)
    b = tl.run(X, teacher.probabilities, 16, 200, 1.0, kind="soft", seed=1)
    # the Teacher path takes 1 - p as sigma(-t) instead of 1 - p: rounding only
    assert rel_err(a.W, b.W) < 1e-12 and rel_err(a.W, a.W0) > 1e-3
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-10, atol=1e-15)
    with pytest.raises(ValueError, match="kind='soft'"):
        tl.run(X, teacher, 16, 1, 1.0, kind="hard")


def test_wide_network_teacher(data):
    X, y = data
    teacher = tl.wide_network_teacher(X, y, 512, 300, 1.0, seed=2, temperature=0.5)
    assert teacher.source == "wide-network" and teacher.params.width == 512
    # its logits are the trained network's outputs on the training points
    np.testing.assert_allclose(teacher.logits, tl.forward(teacher.params, X), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(teacher.predict_logits(X[:5]), teacher.logits[:5], rtol=1e-13, atol=1e-15)
    assert teacher.info["final_accuracy"] == np.mean(y * teacher.logits > 0)
    student = tl.run(X, teacher, 32, 50, 1.0, kind="soft", temperature=0.5, seed=0)
    assert student.loss[-1] < student.loss[0]


def test_kernel_teacher_hook(data):
    X, y = data
    from sklearn.svm import SVC

    svm = SVC(kernel="rbf", C=10.0).fit(X, y)
    t1 = tl.kernel_teacher(svm, X, scale=2.0)
    np.testing.assert_allclose(t1.logits, 2.0 * svm.decision_function(X), rtol=1e-15)
    t2 = tl.kernel_teacher(lambda Z: Z[:, 0], X)
    np.testing.assert_array_equal(t2.logits, X[:, 0])
    with pytest.raises(TypeError, match="predictor must be a callable"):
        tl.kernel_teacher(object(), X)
    with pytest.raises(ValueError, match=r"predictor\(X\) must have shape \(30,\)"):
        tl.kernel_teacher(lambda Z: Z[:3, 0], X)
    with pytest.raises(ValueError, match="holds only its training logits"):
        t2.predict_logits(X)


@pytest.mark.parametrize("make, err, pattern", [
    (lambda p: tl.TwoLayerParams(p.W[:, :, None], p.a), ValueError, "W must be 2-dimensional"),
    (lambda p: tl.TwoLayerParams(p.W, p.a[:3]), ValueError, r"a must have shape \(6,\), got \(3,\)"),
    (lambda p: tl.TwoLayerParams(p.W + 1j, p.a), TypeError, "W must be real"),
    (lambda p: tl.TwoLayerParams(np.where(p.W > 0, np.nan, p.W), p.a), ValueError, "W must be finite"),
    (lambda p: tl.TwoLayerParams(None, p.a), TypeError, "W must be a real numeric array"),
    (lambda p: tl.Teacher(np.ones(3), 0.0), ValueError, "temperature must be a finite number > 0, got 0.0"),
    (lambda p: tl.Teacher(np.ones((3, 1))), ValueError, "logits must be 1-dimensional"),
    (lambda p: tl.Teacher(np.array([1.0, np.inf])), ValueError, r"logits\[1\] = inf"),
    (lambda p: tl.Teacher(np.ones(3), source=None), TypeError, "source must be a string"),
    (lambda p: tl.Teacher(np.ones(3), params="W"), TypeError, "params must be None or a TwoLayerParams"),
    (lambda p: tl.Teacher(np.ones(3), info=[("width", 4)]), TypeError, "info must be a dict"),
    (lambda p: tl.teacher_from_logits(np.ones(3), source=""), ValueError, "source must be a nonempty string"),
])
def test_parameters_and_teachers_are_checked_when_built(make, err, pattern):
    with pytest.raises(err, match=pattern):
        make(tl.init_two_layer(4, 6, 0))


def test_valid_parameters_are_held_without_a_copy():
    p = tl.init_two_layer(4, 6, 0)
    q = tl.TwoLayerParams(p.W, p.a)
    assert q.W is p.W and q.a is p.a  # float64 arrays pass through (the runs build many)
    t = tl.Teacher([1, -2, 3])
    assert t.logits.dtype == np.float64 and t.temperature == 1.0 and t.info == {}


def test_grid_errors_name_the_grid_argument(data):
    X, y = data
    with pytest.raises(ValueError, match=r"seeds\[1\] must be an int >= 0, got -1"):
        tl.run_ensemble(X, y, [4], [0, -1], 1, 1.0)
    with pytest.raises(TypeError, match=r"seeds\[0\] must be an int >= 0 or a numpy.random.SeedSequence"):
        tl.run_ensemble(X, y, [4], [1.5], 1, 1.0)
    # refused before any network is drawn, with the memory estimate:
    # 2e13 rows x (24 d + n + 8) bytes = 2e13 x 134 B = 2.38 PiB
    with pytest.raises(ValueError, match=r"widths \[4, 10000000000000\] and 2 seed\(s\).*needs about 2.38 PiB"):
        tl.run_ensemble(X, y, [4, 10**13], [0, 1], 1, 1.0)
    # a lone run names its own width and seed
    with pytest.raises(ValueError, match=r"total width 10000000000000"):
        tl.run(X, y, 10**13, 1, 1.0)
    with pytest.raises(ValueError, match=r"seed must be an int >= 0, got -2"):
        tl.run(X, y, 4, 1, 1.0, seed=-2)
    # a SeedSequence is a valid seed
    ss = np.random.SeedSequence(5)
    assert tl.run_ensemble(X, y, [4], [ss], 1, 1.0).members[0].config["seed"]["entropy"] == 5


def test_reference_run_and_switches_check_their_input(data):
    X, y = data
    p = tl.init_two_layer(4, 6, 0)
    bad = y.copy()
    bad[2] = 0.0
    with pytest.raises(ValueError, match=r"targets must be labels in \{-1, \+1\}.*targets\[2\] = 0.0"):
        tl.reference_numpy_run(X, bad, p, 2, 1.0)
    with pytest.raises(ValueError, match=r"targets must be probabilities in \[0, 1\]"):
        tl.reference_numpy_run(X, 2 * np.ones(30), p, 2, 1.0, kind="soft")
    with pytest.raises(TypeError, match="project_radius must be a real number"):
        tl.reference_numpy_run(X, y, p, 2, 1.0, project_radius="1")
    with pytest.raises(TypeError, match="enabled must be True or False, got 'no'"):
        with tl.chunk_threads("no"):
            pass
    # the temperature of a wide-network teacher is checked before it is trained
    with pytest.raises(ValueError, match="temperature must be a finite number > 0, got nan"):
        tl.wide_network_teacher(X, y, 10**6, 10**6, 1.0, temperature=np.nan)
