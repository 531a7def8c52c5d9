"""Tools shared by the test files (import them; do not copy them into a test file).

* :mod:`tests.helpers.numeric`: relative closeness of arrays and matrices.
* :mod:`tests.helpers.margin`: canonical max-margin problems with known optima and
  ``assert_kkt`` (added with the shared margin module).
* :mod:`tests.helpers.instances`: instance factories (random NTP data and the like).
"""
