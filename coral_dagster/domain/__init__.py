"""Pure core of CORAL: plain Python + numpy, deterministic given explicit seeds.

Never imports dagster, torch, transformers or peft.
"""
