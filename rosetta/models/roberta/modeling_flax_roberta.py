# This file was generated from rosetta/models/roberta/modular_roberta.py by `python -m rosetta modular`.
# Do not edit it: edit the modular source and run that command again.
"""RoBERTa in JAX/Flax: config -> embeddings -> attention -> layer -> encoder -> pretrained base -> heads.

Class for class and attribute for attribute the torch file (`modeling_roberta.py`), as linen
modules: the params tree reads `roberta/encoder/layer/0/attention/self/query/kernel` where torch's
state dict reads `roberta.encoder.layer.0.attention.self.query.weight`, so the one canonical
checkpoint loads here. `FlaxRoberta*Module` are the linen modules of the `FlaxRoberta*` models.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from ...backends.flax.activations import get_activation
from ...backends.flax.flax_utils import (
    FlaxModuleList,
    extended_attention_mask,
    find_pruneable_heads_and_indices,
    head_mask_per_layer,
    prune_dense_params,
)
from ...backends.flax.losses import cross_entropy, question_answering_loss, sequence_classification_loss
from ...backends.flax.modeling_flax_utils import FlaxPreTrainedModel, Params
from ...core.errors import InputError
from ...core.outputs import (
    BaseModelOutput,
    BaseModelOutputWithPooling,
    MaskedLMOutput,
    MultipleChoiceModelOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
    finish_output,
)
from .configuration_roberta import RobertaConfig

Array = jax.Array


def _dense(features: int, dtype: Any, use_bias: bool = True) -> nn.Dense:
    return nn.Dense(features, use_bias=use_bias, dtype=dtype, param_dtype=dtype)


def _layer_norm(config: RobertaConfig, dtype: Any) -> nn.LayerNorm:
    # Two-pass variance, as torch computes it.
    return nn.LayerNorm(
        epsilon=config.layer_norm_eps, dtype=dtype, param_dtype=dtype, use_fast_variance=False
    )


class FlaxRobertaEmbeddings(nn.Module):
    """Word + position + token type embeddings, then LayerNorm and dropout."""

    config: RobertaConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        config = self.config
        self.word_embeddings = nn.Embed(
            config.vocab_size, config.hidden_size, dtype=self.dtype, param_dtype=self.dtype
        )
        self.position_embeddings = nn.Embed(
            config.max_position_embeddings, config.hidden_size, dtype=self.dtype, param_dtype=self.dtype
        )
        self.token_type_embeddings = nn.Embed(
            config.type_vocab_size, config.hidden_size, dtype=self.dtype, param_dtype=self.dtype
        )
        self.LayerNorm = _layer_norm(config, self.dtype)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def __call__(
        self,
        input_ids: jax.Array | None = None,
        token_type_ids: jax.Array | None = None,
        position_ids: jax.Array | None = None,
        inputs_embeds: jax.Array | None = None,
        deterministic: bool = True,
    ) -> jax.Array:
        padding_idx = self.config.pad_token_id
        if position_ids is None:
            if input_ids is not None:
                mask = (input_ids != padding_idx).astype(jnp.int32)
                position_ids = jnp.cumsum(mask, axis=1) * mask + padding_idx
            else:
                seq_length = inputs_embeds.shape[1]
                position_ids = jnp.arange(padding_idx + 1, seq_length + padding_idx + 1)[None, :]
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        seq_length = inputs_embeds.shape[1]
        if position_ids is None:
            position_ids = jnp.arange(seq_length)[None, :]
        if token_type_ids is None:
            token_type_ids = jnp.zeros(inputs_embeds.shape[:2], dtype=jnp.int32)
        position_embeddings = self.position_embeddings(position_ids)
        token_type_embeddings = self.token_type_embeddings(token_type_ids)
        embeddings = inputs_embeds + token_type_embeddings + position_embeddings
        return self.dropout(self.LayerNorm(embeddings), deterministic=deterministic)


class FlaxRobertaSelfAttention(nn.Module):
    """Multi-head attention; its heads are `num_attention_heads` less those `config.pruned_heads` removes."""

    config: RobertaConfig
    layer_idx: int = 0
    dtype: Any = jnp.float32

    def setup(self) -> None:
        config = self.config
        if config.hidden_size % config.num_attention_heads != 0:
            raise InputError(
                f"hidden_size ({config.hidden_size}) must be a multiple of num_attention_heads ({config.num_attention_heads})."
            )
        self.num_attention_heads = config.num_attention_heads - len(
            config.pruned_heads.get(self.layer_idx, [])
        )
        self.attention_head_size = config.hidden_size // config.num_attention_heads
        self.all_head_size = self.num_attention_heads * self.attention_head_size
        self.query = _dense(self.all_head_size, self.dtype)
        self.key = _dense(self.all_head_size, self.dtype)
        self.value = _dense(self.all_head_size, self.dtype)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)

    def split_heads(self, x: Array) -> Array:
        batch, seq, _ = x.shape
        return x.reshape(batch, seq, self.num_attention_heads, self.attention_head_size).transpose(0, 2, 1, 3)

    def __call__(
        self,
        hidden_states: Array,
        attention_mask: Array | None = None,
        head_mask: Array | None = None,
        output_attentions: bool = False,
        deterministic: bool = True,
    ) -> tuple[Array, Array | None]:
        query = self.split_heads(self.query(hidden_states))
        key = self.split_heads(self.key(hidden_states))
        value = self.split_heads(self.value(hidden_states))

        scores = query @ key.swapaxes(-1, -2) / math.sqrt(self.attention_head_size)
        if attention_mask is not None:
            scores = scores + attention_mask
        probs = self.dropout(jax.nn.softmax(scores, axis=-1), deterministic=deterministic)
        if head_mask is not None:
            probs = probs * head_mask
        context = probs @ value
        batch, _, seq, _ = context.shape
        context = context.transpose(0, 2, 1, 3).reshape(batch, seq, self.all_head_size)
        return context, probs if output_attentions else None


class FlaxRobertaSelfOutput(nn.Module):
    config: RobertaConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.dense = _dense(self.config.hidden_size, self.dtype)
        self.LayerNorm = _layer_norm(self.config, self.dtype)
        self.dropout = nn.Dropout(self.config.hidden_dropout_prob)

    def __call__(self, hidden_states: Array, input_tensor: Array, deterministic: bool = True) -> Array:
        return self.LayerNorm(
            self.dropout(self.dense(hidden_states), deterministic=deterministic) + input_tensor
        )


class FlaxRobertaAttention(nn.Module):
    config: RobertaConfig
    layer_idx: int = 0
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.self = FlaxRobertaSelfAttention(self.config, self.layer_idx, dtype=self.dtype)
        self.output = FlaxRobertaSelfOutput(self.config, dtype=self.dtype)

    @staticmethod
    def prune_heads(params: Params, index: np.ndarray) -> Params:
        """This module's params keeping only the projection columns in `index` (the heads that stay)."""
        return {
            "self": {
                name: prune_dense_params(params["self"][name], index) for name in ("query", "key", "value")
            },
            "output": {
                **params["output"],
                "dense": prune_dense_params(params["output"]["dense"], index, dim=1),
            },
        }

    def __call__(
        self,
        hidden_states: Array,
        attention_mask: Array | None = None,
        head_mask: Array | None = None,
        output_attentions: bool = False,
        deterministic: bool = True,
    ) -> tuple[Array, Array | None]:
        context, probs = self.self(
            hidden_states, attention_mask, head_mask, output_attentions, deterministic=deterministic
        )
        return self.output(context, hidden_states, deterministic=deterministic), probs


class FlaxRobertaIntermediate(nn.Module):
    config: RobertaConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.dense = _dense(self.config.intermediate_size, self.dtype)
        self.intermediate_act_fn = get_activation(self.config.hidden_act)

    def __call__(self, hidden_states: Array) -> Array:
        return self.intermediate_act_fn(self.dense(hidden_states))


class FlaxRobertaOutput(nn.Module):
    config: RobertaConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.dense = _dense(self.config.hidden_size, self.dtype)
        self.LayerNorm = _layer_norm(self.config, self.dtype)
        self.dropout = nn.Dropout(self.config.hidden_dropout_prob)

    def __call__(self, hidden_states: Array, input_tensor: Array, deterministic: bool = True) -> Array:
        return self.LayerNorm(
            self.dropout(self.dense(hidden_states), deterministic=deterministic) + input_tensor
        )


class FlaxRobertaLayer(nn.Module):
    config: RobertaConfig
    layer_idx: int = 0
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.attention = FlaxRobertaAttention(self.config, self.layer_idx, dtype=self.dtype)
        self.intermediate = FlaxRobertaIntermediate(self.config, dtype=self.dtype)
        self.output = FlaxRobertaOutput(self.config, dtype=self.dtype)

    @staticmethod
    def layer_variant(config: RobertaConfig, layer_idx: int) -> Hashable:
        """What sets layer `layer_idx` apart from the others: the heads pruned from it."""
        return tuple(sorted(config.pruned_heads.get(layer_idx, [])))

    def __call__(
        self,
        hidden_states: Array,
        attention_mask: Array | None = None,
        head_mask: Array | None = None,
        output_attentions: bool = False,
        deterministic: bool = True,
    ) -> tuple[Array, Array | None]:
        attention_output, probs = self.attention(
            hidden_states, attention_mask, head_mask, output_attentions, deterministic=deterministic
        )
        layer_output = self.output(
            self.intermediate(attention_output), attention_output, deterministic=deterministic
        )
        return layer_output, probs


class FlaxRobertaEncoder(nn.Module):
    config: RobertaConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        # (output_attentions, deterministic) are Python values: static under gradient checkpointing
        self.layer = FlaxModuleList(
            FlaxRobertaLayer,
            self.config,
            self.config.num_hidden_layers,
            dtype=self.dtype,
            remat_static_argnums=(4, 5),
        )

    def __call__(
        self,
        hidden_states: Array,
        attention_mask: Array | None = None,
        head_mask: list[Array | None] | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        deterministic: bool = True,
    ) -> BaseModelOutput:
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        head_mask = head_mask or [None] * len(self.layer)
        if self.layer.scans and all(mask is None for mask in head_mask):  # see FlaxModuleList.scan
            hidden_states, layer_inputs, (all_attentions,) = self.layer.scan(
                hidden_states, attention_mask, None, output_attentions, deterministic,
                collect_inputs=output_hidden_states,
            )  # fmt: skip
            all_hidden_states = layer_inputs + (hidden_states,) if output_hidden_states else None
        else:
            for layer, layer_head_mask in zip(self.layer, head_mask):
                hidden_states, probs = layer(
                    hidden_states, attention_mask, layer_head_mask, output_attentions, deterministic
                )
                if output_hidden_states:
                    all_hidden_states += (hidden_states,)
                if output_attentions:
                    all_attentions += (probs,)
        return BaseModelOutput(
            last_hidden_state=hidden_states, hidden_states=all_hidden_states, attentions=all_attentions
        )


class FlaxRobertaPooler(nn.Module):
    """The first token's hidden state through a dense layer and tanh."""

    config: RobertaConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.dense = _dense(self.config.hidden_size, self.dtype)
        self.activation = jnp.tanh

    def __call__(self, hidden_states: Array) -> Array:
        return self.activation(self.dense(hidden_states[:, 0]))


class FlaxRobertaPreTrainedModel(FlaxPreTrainedModel):
    config_class = RobertaConfig
    supports_gradient_checkpointing = True
    base_model_prefix = "roberta"
    _keys_to_ignore_on_load_unexpected = [r"position_ids$"]
    _input_embeddings_path = ("embeddings", "word_embeddings", "embedding")

    def _prune_heads(self, base_params: Params, heads_to_prune: dict[int, list[int]]) -> Params:
        config = self.config
        head_size = config.hidden_size // config.num_attention_heads
        for layer, heads in heads_to_prune.items():
            already_pruned = set(config.pruned_heads.get(layer, []))
            heads, index = find_pruneable_heads_and_indices(
                heads, config.num_attention_heads - len(already_pruned), head_size, already_pruned
            )
            if not heads:
                continue
            layer_params = base_params["encoder"]["layer"][str(layer)]
            layer_params["attention"] = FlaxRobertaAttention.prune_heads(layer_params["attention"], index)
        return base_params

    def _max_input_length(self) -> int | None:
        """Positions start after the padding index, so the position table holds fewer tokens than its rows."""
        return self.config.max_position_embeddings - self.config.pad_token_id - 1


class FlaxRobertaModule(nn.Module):
    """The bare RoBERTa encoder; `add_pooling_layer=False` leaves out the pooler (MLM and token heads)."""

    config: RobertaConfig
    dtype: Any = jnp.float32
    add_pooling_layer: bool = True

    def setup(self) -> None:
        self.embeddings = FlaxRobertaEmbeddings(self.config, dtype=self.dtype)
        self.encoder = FlaxRobertaEncoder(self.config, dtype=self.dtype)
        self.pooler = FlaxRobertaPooler(self.config, dtype=self.dtype) if self.add_pooling_layer else None

    def __call__(
        self,
        input_ids: Array | None = None,
        attention_mask: Array | None = None,
        token_type_ids: Array | None = None,
        position_ids: Array | None = None,
        head_mask: Array | None = None,
        inputs_embeds: Array | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        deterministic: bool = True,
    ) -> BaseModelOutputWithPooling | tuple:
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        return_dict = self.config.return_dict if return_dict is None else return_dict
        if (input_ids is None) == (inputs_embeds is None):
            raise InputError("Pass exactly one of input_ids or inputs_embeds.")

        embedding_output = self.embeddings(
            input_ids, token_type_ids, position_ids, inputs_embeds, deterministic=deterministic
        )
        dtype = embedding_output.dtype
        mask = extended_attention_mask(attention_mask, dtype) if attention_mask is not None else None
        encoder_outputs = self.encoder(
            embedding_output,
            attention_mask=mask,
            head_mask=head_mask_per_layer(head_mask, self.config.num_hidden_layers, dtype),
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            deterministic=deterministic,
        )
        sequence_output = encoder_outputs.last_hidden_state
        pooled_output = self.pooler(sequence_output) if self.pooler is not None else None
        outputs = BaseModelOutputWithPooling(
            last_hidden_state=sequence_output,
            pooler_output=pooled_output,
            hidden_states=encoder_outputs.hidden_states,
            attentions=encoder_outputs.attentions,
        )
        return finish_output(outputs, return_dict)


class FlaxRobertaModel(FlaxRobertaPreTrainedModel):
    module_class = FlaxRobertaModule


def _tied_word_embeddings(config: RobertaConfig, roberta: FlaxRobertaModule) -> nn.Embed | None:
    """The word embeddings a tied LM decoder projects with (torch's `tie_weights`)."""
    return roberta.embeddings.word_embeddings if config.tie_word_embeddings else None


class FlaxRobertaLMHead(nn.Module):
    """Dense -> gelu -> LayerNorm, then the word embeddings (tied) or a decoder, plus a bias."""

    config: RobertaConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.dense = _dense(self.config.hidden_size, self.dtype)
        self.layer_norm = _layer_norm(self.config, self.dtype)
        if not self.config.tie_word_embeddings:
            self.decoder = _dense(self.config.vocab_size, self.dtype, use_bias=False)
        self.bias = self.param("bias", nn.initializers.zeros, (self.config.vocab_size,), self.dtype)

    def __call__(self, features: jax.Array, word_embeddings: nn.Embed | None = None) -> jax.Array:
        hidden_states = self.layer_norm(jax.nn.gelu(self.dense(features), approximate=False))
        if self.config.tie_word_embeddings:
            logits = word_embeddings.attend(hidden_states)
        else:
            logits = self.decoder(hidden_states)
        return logits + self.bias


class FlaxRobertaForMaskedLMModule(nn.Module):
    config: RobertaConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.roberta = FlaxRobertaModule(self.config, dtype=self.dtype, add_pooling_layer=False)
        self.lm_head = FlaxRobertaLMHead(self.config, dtype=self.dtype)

    def __call__(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        head_mask=None,
        inputs_embeds=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        deterministic: bool = True,
    ) -> MaskedLMOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.roberta(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            head_mask,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            return_dict=True,
            deterministic=deterministic,
        )
        prediction_scores = self.lm_head(
            outputs.last_hidden_state, _tied_word_embeddings(self.config, self.roberta)
        )
        loss = cross_entropy(prediction_scores, labels) if labels is not None else None
        return finish_output(
            MaskedLMOutput(
                loss=loss,
                logits=prediction_scores,
                hidden_states=outputs.hidden_states,
                attentions=outputs.attentions,
            ),
            return_dict,
        )


class FlaxRobertaForMaskedLM(FlaxRobertaPreTrainedModel):
    module_class = FlaxRobertaForMaskedLMModule
    _tied_weights_keys = ["lm_head.decoder.weight"]
    _shared_weights_keys = ["lm_head.decoder.bias"]
    _keys_to_ignore_on_load_unexpected = [r"position_ids$", r"^roberta\.pooler\."]
    _output_embeddings_path = ("lm_head", "decoder", "kernel")
    _output_bias_path = ("lm_head", "bias")


class FlaxRobertaClassificationHead(nn.Module):
    """Classification on the <s> token: dropout -> dense -> tanh -> dropout -> projection."""

    config: RobertaConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        config = self.config
        self.dense = _dense(config.hidden_size, self.dtype)
        classifier_dropout = (
            config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        )
        self.dropout = nn.Dropout(classifier_dropout)
        self.out_proj = _dense(config.num_labels, self.dtype)

    def __call__(self, features: jax.Array, deterministic: bool = True) -> jax.Array:
        x = self.dropout(features[:, 0, :], deterministic=deterministic)
        x = jnp.tanh(self.dense(x))
        return self.out_proj(self.dropout(x, deterministic=deterministic))


class FlaxRobertaForSequenceClassificationModule(nn.Module):
    config: RobertaConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.num_labels = self.config.num_labels
        self.roberta = FlaxRobertaModule(self.config, dtype=self.dtype, add_pooling_layer=False)
        self.classifier = FlaxRobertaClassificationHead(self.config, dtype=self.dtype)

    def __call__(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        head_mask=None,
        inputs_embeds=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        deterministic: bool = True,
    ) -> SequenceClassifierOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.roberta(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            head_mask,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            return_dict=True,
            deterministic=deterministic,
        )
        logits = self.classifier(outputs.last_hidden_state, deterministic=deterministic)
        loss = sequence_classification_loss(self.config, logits, labels) if labels is not None else None
        return finish_output(
            SequenceClassifierOutput(
                loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
            ),
            return_dict,
        )


class FlaxRobertaForSequenceClassification(FlaxRobertaPreTrainedModel):
    module_class = FlaxRobertaForSequenceClassificationModule


class FlaxRobertaForMultipleChoiceModule(nn.Module):
    """Inputs of shape [batch, num_choices, seq]; one score per choice."""

    config: RobertaConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        config = self.config
        self.roberta = FlaxRobertaModule(config, dtype=self.dtype)
        classifier_dropout = (
            config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        )
        self.dropout = nn.Dropout(classifier_dropout)
        self.classifier = _dense(1, self.dtype)

    def __call__(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        head_mask=None,
        inputs_embeds=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        deterministic: bool = True,
    ) -> MultipleChoiceModelOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        num_choices = input_ids.shape[1] if input_ids is not None else inputs_embeds.shape[1]

        def flat(x, trailing_dims: int = 1):
            """[batch, num_choices, *rest] -> [batch * num_choices, *rest], `rest` being the last `trailing_dims` axes."""
            return x.reshape(-1, *x.shape[x.ndim - trailing_dims :]) if x is not None else None

        outputs = self.roberta(
            flat(input_ids),
            flat(attention_mask),
            flat(token_type_ids),
            flat(position_ids),
            head_mask,
            flat(inputs_embeds, 2),
            output_attentions,
            output_hidden_states,
            return_dict=True,
            deterministic=deterministic,
        )
        logits = self.classifier(self.dropout(outputs.pooler_output, deterministic=deterministic)).reshape(
            -1, num_choices
        )
        loss = cross_entropy(logits, labels) if labels is not None else None
        return finish_output(
            MultipleChoiceModelOutput(
                loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
            ),
            return_dict,
        )


class FlaxRobertaForMultipleChoice(FlaxRobertaPreTrainedModel):
    module_class = FlaxRobertaForMultipleChoiceModule


class FlaxRobertaForTokenClassificationModule(nn.Module):
    config: RobertaConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        config = self.config
        self.num_labels = config.num_labels
        self.roberta = FlaxRobertaModule(config, dtype=self.dtype, add_pooling_layer=False)
        classifier_dropout = (
            config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        )
        self.dropout = nn.Dropout(classifier_dropout)
        self.classifier = _dense(config.num_labels, self.dtype)

    def __call__(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        head_mask=None,
        inputs_embeds=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        deterministic: bool = True,
    ) -> TokenClassifierOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.roberta(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            head_mask,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            return_dict=True,
            deterministic=deterministic,
        )
        logits = self.classifier(self.dropout(outputs.last_hidden_state, deterministic=deterministic))
        loss = cross_entropy(logits, labels) if labels is not None else None
        return finish_output(
            TokenClassifierOutput(
                loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
            ),
            return_dict,
        )


class FlaxRobertaForTokenClassification(FlaxRobertaPreTrainedModel):
    module_class = FlaxRobertaForTokenClassificationModule
    _keys_to_ignore_on_load_unexpected = [r"position_ids$", r"^roberta\.pooler\."]


class FlaxRobertaForQuestionAnsweringModule(nn.Module):
    config: RobertaConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.num_labels = self.config.num_labels
        self.roberta = FlaxRobertaModule(self.config, dtype=self.dtype, add_pooling_layer=False)
        self.qa_outputs = _dense(self.config.num_labels, self.dtype)

    def __call__(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        head_mask=None,
        inputs_embeds=None,
        start_positions=None,
        end_positions=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        deterministic: bool = True,
    ) -> QuestionAnsweringModelOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.roberta(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            head_mask,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            return_dict=True,
            deterministic=deterministic,
        )
        logits = self.qa_outputs(outputs.last_hidden_state)
        start_logits, end_logits = (t.squeeze(-1) for t in jnp.split(logits, logits.shape[-1], axis=-1))
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = question_answering_loss(start_logits, end_logits, start_positions, end_positions)
        return finish_output(
            QuestionAnsweringModelOutput(
                loss=loss,
                start_logits=start_logits,
                end_logits=end_logits,
                hidden_states=outputs.hidden_states,
                attentions=outputs.attentions,
            ),
            return_dict,
        )


class FlaxRobertaForQuestionAnswering(FlaxRobertaPreTrainedModel):
    module_class = FlaxRobertaForQuestionAnsweringModule
    _keys_to_ignore_on_load_unexpected = [r"position_ids$", r"^roberta\.pooler\."]
