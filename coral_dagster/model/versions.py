"""Version constants that enter cache keys (torch-free, so key computation stays cheap to import).

Bump a constant whenever the behaviour it names changes, so stale artifacts are never reused:

- ``PROMPT_TEMPLATE_VERSION``: the prompt/response text used by training and generation
  (enters the genome key through the evaluation context, and the adapter key through the
  training config of ``coral_dagster.pipeline.inputs.training_config_for_key``).
- ``TRAINING_CODE_VERSION``: the training loop (loss masking, optimizer, batching; adapter key).
- ``CONVERSION_VERSION``: the GGUF -> safetensors conversion of the embedded base model and the
  tiny-random checkpoint builder (base-model fingerprint).
- ``PROGRAM_SCORE_VERSION``: how ``patch.candidate_score: program`` encodes a program
  (``model.scoring.program_ids``: the document-start token, the shared prefix); enters the
  evaluation context and, with the ranking loss, the adapter key, only for that score.
"""

PROMPT_TEMPLATE_VERSION = "1"
TRAINING_CODE_VERSION = "1"
CONVERSION_VERSION = "1"
PROGRAM_SCORE_VERSION = "2"  # 1: after the tokenizer's BOS (SmolLM2's <|im_start|>)
