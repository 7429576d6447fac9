"""What each stage of an evolution computes, as plain functions (no Dagster import).

``layout`` builds every store path, ``store`` reads and writes typed ``records``, ``inputs``
loads an experiment's problems and key context, and one module per stage: ``population``,
``adapters``, ``generation``, ``scoring``, ``heldout``, ``report``; ``statistics`` is the one
table every fitness and cache figure derives from; ``in_process`` composes the stages without
Dagster. The assets call these functions; so does ``coral evolve`` through the assets.
"""
