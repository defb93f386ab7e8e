"""The learning loop: dataset snapshots, the learned camera AI, unlearning, evaluation.

Importing the package registers the unlearner with the store (``store/datasets.py``), so that every
process that loads any part of the loop retrains models as soon as a withdrawal or erasure commits.
"""

from clipwarden.learn import unlearning as _unlearning  # noqa: F401
