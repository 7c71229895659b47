"""Bundled instrument files (YAML), validated by :mod:`analysis.instrument`."""
