"""Everything that talks to a Dagster instance without being a definition.

``steps`` (the step table: each step's assets, partition set, job, group and placement),
``partitions`` and ``jobs`` derived from it, ``placement`` (executors and Kubernetes pods),
``run_tags`` and ``runs`` (a planned step as a run), ``facts`` (what the planner reads from the
instance), ``driver`` (``coral evolve``), ``backfill``, ``status``, ``run_timings`` and ``home``
(an experiment's folder). Imports point down to ``pipeline`` and the engines, never up to the
asset definitions: the driver receives the ``Definitions`` from its caller.
"""
