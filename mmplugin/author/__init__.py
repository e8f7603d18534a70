"""Tools for plugin authors: bundles (and, later, scaffolding)."""
