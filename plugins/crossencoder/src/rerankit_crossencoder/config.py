"""The cross-encoder's options: a pydantic model validated by ``rerankit.get_reranker``.

The options every local model shares (``model_name``, ``device``, ``batch_size``, ``dtype``,
``trust_remote_code``, ``cache_dir``, ``local_files_only``) come from
:class:`rerankit.local.LocalModelConfig`; names follow ``lancedb.rerankers.CrossEncoderReranker``
so code moving from LanceDB keeps its arguments. Checks that need no torch (an int8 model on a
GPU, half precision forced onto the CPU) fail here, at ``get_reranker`` time; those that depend
on the auto-detected device fail on first score.
"""

from __future__ import annotations

from typing import ClassVar, Literal, Optional

from pydantic import Field, model_validator

from rerankit.local import LocalModelConfig

from .recipes import RECIPES

DEFAULT_MODEL = "cross-encoder/ms-marco-TinyBERT-L-6"

Activation = Literal["auto", "raw", "sigmoid"]
RecipeName = Literal["qwen3", "mxbai-v2", "bge-gemma", "monot5", "sequence-classification"]
#: Recipes that read an instruction (``Recipe.takes_instruction``, in recipes.py).
INSTRUCTION_RECIPES = tuple(name for name, recipe in RECIPES.items() if recipe.takes_instruction)


class CrossEncoderConfig(LocalModelConfig):
    """Options of the ``crossencoder`` reranker (on top of ``column``, ``top_n``, ``return_score``)."""

    torch_int8: ClassVar[bool] = True

    model_name: str = Field(
        DEFAULT_MODEL,
        min_length=1,
        description="Hugging Face model id or local directory of a cross-encoder (one-logit head).",
    )
    batch_size: int = Field(32, ge=1, description="Query-text pairs per forward pass.")
    max_length: Optional[int] = Field(
        None,
        ge=8,
        description="Token limit per pair; longer pairs are truncated and counted in a warning. "
        "None uses the model's own limit.",
    )
    activation: Activation = Field(
        "auto",
        description="'auto' applies what the model was saved with, exactly as CrossEncoder.predict "
        "(and LanceDB) do; 'raw' returns logits; 'sigmoid' maps them to (0, 1).",
    )
    quantize: Optional[Literal["int8"]] = Field(
        None,
        description="Fast CPU path: 'int8' applies dynamic int8 quantization to the transformer's "
        "linear layers (torch, or ONNX Runtime with backend='onnx'; see the README for its accuracy).",
    )
    recipe: Optional[RecipeName] = Field(
        None,
        description="How the checkpoint turns a pair into a prompt and its output into a score: "
        "'qwen3', 'mxbai-v2', 'bge-gemma', 'monot5' (LLM rerankers) or 'sequence-classification' "
        "(a cross-encoder, scored by sentence-transformers). None detects it from the checkpoint.",
    )
    instruction: Optional[str] = Field(
        None,
        min_length=1,
        description="Task instruction written into the prompt (recipes qwen3 and mxbai-v2); None "
        "uses the recipe's default.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> CrossEncoderConfig:
        device = (self.device or "auto").split(":")[0]
        generative = self.recipe not in (None, "sequence-classification")
        if self.instruction is not None and self.recipe is not None and self.recipe not in INSTRUCTION_RECIPES:
            raise ValueError(
                f"instruction is read by the recipes {', '.join(INSTRUCTION_RECIPES)}, not by "
                f"recipe='{self.recipe}'; drop instruction or pick one of those recipes"
            )
        if generative and self.quantize is not None and self.backend == "torch":
            raise ValueError(
                f"quantize='{self.quantize}' with recipe='{self.recipe}' runs on backend='onnx' or 'openvino'; "
                "on torch use dtype='bfloat16' (CPU or GPU) or 'float16' (GPU) instead"
            )
        if self.quantize is not None and self.backend == "torch" and device not in ("auto", "cpu"):
            raise ValueError(
                f"quantize='{self.quantize}' is a CPU-only path (torch dynamic quantization); "
                f"drop it on device='{self.device}' and use dtype='float16' or 'bfloat16' instead"
            )
        return self
