"""Tools for plugin authors: project scaffolding (:mod:`~mmplugin.author.scaffold`) and bundles
(:mod:`~mmplugin.author.bundle`)."""
