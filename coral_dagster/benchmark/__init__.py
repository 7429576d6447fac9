"""Benchmark engine: QuixBugs-layout problems, splits, the sandbox, the evaluator and scores.

Modules (one concept each): ``problems`` (loading), ``pytest_cases`` (static test-file scan),
``splits``, ``sandbox`` (bwrap / process backends), ``harness`` (runs inside the sandbox),
``pytest_shim`` (the sandbox's ``pytest``), ``execution`` (host side of the harness protocol),
``comparison`` (JSON results vs expected), ``quality`` (ruff, bandit), ``objectives`` (score
formulas) and ``evaluator`` (the public ``Evaluator``).
"""
