"""Mutation check: plausible math bugs the test suite must catch (issue 11).

``mutations.py`` holds the curated list, ``harness.py`` applies one mutation to a
temporary copy of the package and runs the tests that should catch it, and
``python -m tests.mutation.run`` prints the table and the kill rate.
"""
