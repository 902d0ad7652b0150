"""Loaders that turn each supported dataset's published layout into canonical records."""
