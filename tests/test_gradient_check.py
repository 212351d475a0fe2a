"""Tests of course_lib.gradient_check.

Expected values are analytic derivatives of simple functions (cubic, sine, linear
maps) and hand-computed differences; the relative-error definition is the one the
cs231n notebooks print (``tests.published.REL_ERROR_DEFINITION``).
"""

from __future__ import annotations

import numpy as np
import pytest

from course_lib.gradient_check import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    grad_check_sparse,
    rel_error,
)


def _cubic(x):
    """f(x) = sum(x**3), whose gradient is 3 x**2."""
    return float(np.sum(x**3))


class _EntryRecorder:
    """f(x) = sum(x**3) that records which entry of x each call perturbs."""

    def __init__(self, x):
        self.base = x.copy()
        self.entries = []

    def __call__(self, x):
        changed = tuple(tuple(int(i) for i in ix) for ix in np.argwhere(x != self.base))
        self.entries.extend(changed)
        return _cubic(x)


# ---------------------------------------------------------------------------
# rel_error
# ---------------------------------------------------------------------------

def test_rel_error_is_the_largest_elementwise_relative_difference():
    # Entries: |1 - 3| / (1 + 3) = 0.5 and |2 - 2| / 4 = 0.
    assert rel_error(np.array([1.0, 2.0]), np.array([3.0, 2.0])) == 0.5


def test_rel_error_matches_the_definition_in_the_cs231n_notebooks():
    # tests.published.REL_ERROR_DEFINITION, the notebooks' setup cell (and the seed document
    # ../shared/seeds/001_15691f710f150164.txt, "def rel_error"):
    # np.max(np.abs(x - y) / (np.maximum(1e-8, np.abs(x) + np.abs(y))))
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 7)), rng.standard_normal((6, 7))
    expected = np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)))
    assert rel_error(x, y) == expected


def test_rel_error_floors_the_denominator_at_1e_minus_8():
    # |0 - 1e-10| / max(1e-8, 1e-10) = 1e-2: tiny values do not give relative error 1.
    assert rel_error(np.array([0.0]), np.array([1e-10])) == pytest.approx(1e-2, rel=1e-12)


def test_rel_error_of_identical_arrays_is_zero():
    x = np.linspace(-3, 3, 10)
    assert rel_error(x, x.copy()) == 0.0


def test_rel_error_returns_a_python_float():
    assert type(rel_error(np.ones(3), np.zeros(3))) is float


def test_rel_error_of_empty_arrays_is_zero():
    assert rel_error(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0


def test_rel_error_rejects_arrays_of_different_shapes_naming_both():
    with pytest.raises(ValueError, match=r"\(2, 3\) vs \(3, 2\)"):
        rel_error(np.zeros((2, 3)), np.zeros((3, 2)))


# ---------------------------------------------------------------------------
# eval_numerical_gradient
# ---------------------------------------------------------------------------

def test_eval_numerical_gradient_matches_the_analytic_gradient_of_a_cubic():
    x = np.random.default_rng(1).uniform(1, 2, size=(3, 4))
    grad = eval_numerical_gradient(_cubic, x, verbose=False)
    assert rel_error(grad, 3 * x**2) < 1e-8


def test_eval_numerical_gradient_uses_centered_differences_with_step_h():
    # For x**3 at x = 1 with h = 0.1: (1.1**3 - 0.9**3) / 0.2 = 3.01 (a forward difference would give 3.31).
    grad = eval_numerical_gradient(_cubic, np.array([1.0]), verbose=False, h=0.1)
    assert grad[0] == pytest.approx(3.01, rel=1e-12)


def test_eval_numerical_gradient_restores_x():
    x = np.random.default_rng(2).standard_normal((2, 3, 2))
    before = x.copy()
    eval_numerical_gradient(_cubic, x, verbose=False)
    np.testing.assert_array_equal(x, before)


def test_eval_numerical_gradient_returns_float64_of_the_shape_of_x():
    grad = eval_numerical_gradient(_cubic, np.ones((2, 3, 4)), verbose=False)
    assert grad.shape == (2, 3, 4) and grad.dtype == np.float64


def test_eval_numerical_gradient_prints_one_line_per_entry_only_when_verbose(capsys):
    x = np.ones((2, 3))
    eval_numerical_gradient(_cubic, x, verbose=True)
    assert len(capsys.readouterr().out.splitlines()) == x.size
    eval_numerical_gradient(_cubic, x, verbose=False)
    assert capsys.readouterr().out == ""


# ---------------------------------------------------------------------------
# eval_numerical_gradient_array
# ---------------------------------------------------------------------------

def test_eval_numerical_gradient_array_of_a_linear_map_is_dout_times_the_transpose():
    rng = np.random.default_rng(3)
    a, x, dout = rng.standard_normal((4, 3)), rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    grad = eval_numerical_gradient_array(lambda z: z @ a, x, dout)
    assert rel_error(grad, dout @ a.T) < 1e-8


def test_eval_numerical_gradient_array_of_an_elementwise_function():
    rng = np.random.default_rng(4)
    x, dout = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    grad = eval_numerical_gradient_array(np.sin, x, dout)
    assert rel_error(grad, np.cos(x) * dout) < 1e-8


def test_eval_numerical_gradient_array_works_when_f_returns_its_input_array():
    # f returns x itself; the value at x + h must be copied before x is moved to x - h.
    rng = np.random.default_rng(5)
    x, dout = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    grad = eval_numerical_gradient_array(lambda z: z, x, dout)
    assert rel_error(grad, dout) < 1e-8


def test_eval_numerical_gradient_array_restores_x():
    x = np.random.default_rng(6).standard_normal((4, 2))
    before = x.copy()
    eval_numerical_gradient_array(np.tanh, x, np.ones_like(x))
    np.testing.assert_array_equal(x, before)


# ---------------------------------------------------------------------------
# grad_check_sparse
# ---------------------------------------------------------------------------

def test_grad_check_sparse_returns_one_float_per_check():
    x = np.random.default_rng(7).standard_normal((5, 6))
    errors = grad_check_sparse(_cubic, x, 3 * x**2, num_checks=7, seed=0, verbose=False)
    assert isinstance(errors, list) and len(errors) == 7
    assert all(type(e) is float for e in errors)


def test_grad_check_sparse_errors_are_small_for_the_right_gradient():
    x = np.random.default_rng(8).standard_normal((5, 6))
    errors = grad_check_sparse(_cubic, x, 3 * x**2, num_checks=10, seed=0, verbose=False)
    assert max(errors) < 1e-8


def test_grad_check_sparse_error_is_one_for_a_gradient_of_the_wrong_sign():
    # |g - (-g)| / (|g| + |-g|) = 1 at every entry.
    x = np.random.default_rng(9).uniform(1, 2, size=(5, 6))
    errors = grad_check_sparse(_cubic, x, -3 * x**2, num_checks=10, seed=0, verbose=False)
    assert errors == pytest.approx([1.0] * 10, abs=1e-6)


def test_grad_check_sparse_error_is_zero_where_both_gradients_are_zero():
    # sum(x**2) at x = 0: both centered values are h**2, so the numerical gradient is exactly 0.
    x = np.zeros((3, 3))
    errors = grad_check_sparse(lambda z: float(np.sum(z**2)), x, np.zeros_like(x), num_checks=4, seed=0,
                               verbose=False)
    assert errors == [0.0] * 4


def test_grad_check_sparse_with_the_same_seed_checks_the_same_entries():
    x = np.random.default_rng(10).standard_normal((6, 7))
    first, second = _EntryRecorder(x), _EntryRecorder(x)
    grad_check_sparse(first, x, 3 * x**2, num_checks=8, seed=42, verbose=False)
    grad_check_sparse(second, x, 3 * x**2, num_checks=8, seed=42, verbose=False)
    assert len(first.entries) == 16 and first.entries == second.entries


def test_grad_check_sparse_with_different_seeds_checks_different_entries():
    x = np.random.default_rng(11).standard_normal((6, 7))
    first, second = _EntryRecorder(x), _EntryRecorder(x)
    grad_check_sparse(first, x, 3 * x**2, num_checks=8, seed=1, verbose=False)
    grad_check_sparse(second, x, 3 * x**2, num_checks=8, seed=2, verbose=False)
    assert first.entries != second.entries


def test_grad_check_sparse_without_seed_draws_entries_like_cs231n_from_the_global_generator():
    # cs231n: ix = tuple([randrange(m) for m in x.shape]) from numpy's global generator.
    x = np.random.default_rng(12).standard_normal((6, 7))
    recorder = _EntryRecorder(x)
    np.random.seed(5)
    grad_check_sparse(recorder, x, 3 * x**2, num_checks=4, verbose=False)
    np.random.seed(5)
    expected = [tuple(int(np.random.randint(m)) for m in x.shape) for _ in range(4)]
    assert recorder.entries[::2] == expected


def test_grad_check_sparse_restores_x():
    x = np.random.default_rng(13).standard_normal((4, 4))
    before = x.copy()
    grad_check_sparse(_cubic, x, 3 * x**2, num_checks=5, seed=0, verbose=False)
    np.testing.assert_array_equal(x, before)


def test_grad_check_sparse_prints_one_line_per_check_only_when_verbose(capsys):
    x = np.ones((3, 3))
    grad_check_sparse(_cubic, x, 3 * x**2, num_checks=6, seed=0, verbose=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6 and all("relative error" in line for line in lines)
    grad_check_sparse(_cubic, x, 3 * x**2, num_checks=6, seed=0, verbose=False)
    assert capsys.readouterr().out == ""
