"""`text-generation`: prompts or chat messages -> the model's `generate` -> text, as transformers returns it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..core.errors import InputError
from ._base import Pipeline, device_scope
from ._numpy import to_numpy

_DEFAULT_MAX_NEW_TOKENS = 256  # transformers' pipeline default when the model sets no length


def _is_chat(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(m, Mapping) for m in value)


def _prompts(inputs: Any) -> tuple[list[Any], bool]:
    """(the prompts: strings or chats, whether one prompt was given)."""
    if isinstance(inputs, str) or _is_chat(inputs):
        prompts, single = [inputs], True
    elif isinstance(inputs, (list, tuple)) and inputs:
        prompts, single = list(inputs), False
    else:
        prompts, single = [inputs], True
    for prompt in prompts:
        if not ((isinstance(prompt, str) and prompt) or _is_chat(prompt)):
            raise InputError(
                "text-generation takes a non-empty prompt string, a chat (a list of {'role', 'content'} "
                f"messages), or a list of those; got {prompt!r}."
            )
    return prompts, single


class TextGenerationPipeline(Pipeline):
    """Continue each prompt with `model.generate`; `return_full_text` puts the prompt back in front."""

    auto_class = "AutoModelForCausalLM"

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        prompts, single = _prompts(inputs)
        results = [self._one(prompt, dict(kwargs)) for prompt in prompts]
        return results[0] if single else results

    def _one(self, prompt: Any, kwargs: dict[str, Any]) -> list[dict[str, Any]]:
        return_full_text = kwargs.pop("return_full_text", True)
        return_tensors = kwargs.pop("return_tensors", False)
        skip_special_tokens = kwargs.pop("skip_special_tokens", True)
        clean_up = kwargs.pop("clean_up_tokenization_spaces", None)
        continue_final = kwargs.pop("continue_final_message", None)
        add_special_tokens = kwargs.pop("add_special_tokens", False)
        prefix = kwargs.pop("prefix", "")
        chat = not isinstance(prompt, str)
        if chat:
            continue_final = prompt[-1]["role"] == "assistant" if continue_final is None else continue_final
            encoding = self.tokenizer.apply_chat_template(
                list(prompt),
                add_generation_prompt=not continue_final,
                continue_final_message=continue_final,
                return_dict=True,
                return_tensors="np",
            )
        else:
            encoding = self.tokenizer(
                prefix + prompt, add_special_tokens=add_special_tokens, return_tensors="np"
            )
        ids = np.asarray(encoding["input_ids"])
        sequences = self._generate(ids, np.asarray(encoding.get("attention_mask", np.ones_like(ids))), kwargs)
        records = []
        for sequence in sequences.tolist():
            if return_tensors:
                records.append({"generated_token_ids": sequence})
                continue
            text = self.tokenizer.decode(
                sequence[ids.shape[-1] :],
                skip_special_tokens=skip_special_tokens,
                clean_up_tokenization_spaces=clean_up,
            )
            records.append(
                {"generated_text": _full(prompt, text, continue_final) if return_full_text else text}
            )
        return records

    def _generate(self, ids: np.ndarray, mask: np.ndarray, kwargs: dict[str, Any]) -> np.ndarray:
        config = getattr(self.model, "generation_config", None)
        if "max_new_tokens" not in kwargs and "max_length" not in kwargs:
            if getattr(config, "max_new_tokens", None) is None:
                kwargs["max_new_tokens"] = _DEFAULT_MAX_NEW_TOKENS
        with device_scope(self.framework, self.device):
            out = self.model.generate(ids, attention_mask=mask, **kwargs)
        out = getattr(out, "sequences", out)
        return np.asarray(to_numpy(out))


def _full(prompt: Any, text: str, continue_final: bool | None) -> Any:
    if isinstance(prompt, str):
        return prompt + text
    messages = [dict(m) for m in prompt]
    if continue_final:
        return messages[:-1] + [{"role": messages[-1]["role"], "content": messages[-1]["content"] + text}]
    return messages + [{"role": "assistant", "content": text}]
