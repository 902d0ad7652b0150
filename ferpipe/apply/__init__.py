"""Applying a trained model to images it never saw: the `generalize` stage and `python -m ferpipe predict`."""
