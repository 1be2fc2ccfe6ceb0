"""``actbench tune``: every activation tuned with the same budget on a validation split.

A comparison at one learning rate favours whichever activation that rate suits. Here each
activation gets the same grid of settings (grid.py), each setting trained over the same
few seeds and scored on a validation split held out from the training files (the task's
``split="validation"``: the test files are never read), and keeps its best (choose.py).
What comes out (outputs.py): a run config with each activation's chosen settings, which
``actbench run --config`` takes, the scores table and the sensitivity figure.

The tuning trials are stored like any others (resumable, shared by later tunings with
the same settings); ``actbench report`` leaves them out, as they are measured on the
validation split.
"""
