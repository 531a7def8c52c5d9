"""Claims of ``spec/soft_vs_hard_labels.md`` (the two-layer ReLU family): the place for its rows.

Empty until the family's experiments land; add :class:`~sims.claims.Claim` records to
``CLAIMS`` here, one per item of that spec's checks section.
"""

from __future__ import annotations

__all__ = ["CLAIMS"]

CLAIMS: list = []
