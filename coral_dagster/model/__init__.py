"""Model layer: the base model, PEFT LoRA/DoRA adapter training, batched mixed-adapter generation.

Nothing here may download at run time: importing this package sets ``HF_HUB_OFFLINE=1`` and
``TRANSFORMERS_OFFLINE=1`` (unless already set), and every load passes ``local_files_only``.
Submodules import torch/transformers/peft themselves; this package import is cheap.
"""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
