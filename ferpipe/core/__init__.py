"""Shared plumbing of every stage: errors, params checking, all-or-nothing outputs, the stage CLI, image grids."""
