"""RoBERTa, written as what differs from BERT; `rosetta modular` generates the model files from it.

The differences: position ids counted from `padding_idx + 1` and derived from the input ids
(padding keeps `padding_idx`), a byte-level BPE vocabulary with its own special token ids, an
LM head of its own (`lm_head`), and a classification head on the first token without BERT's
pooler. Everything else is BERT's, renamed.
"""

from __future__ import annotations

from typing import Any

import flax.linen as fnn
import jax
import jax.numpy as jnp
import keras
import tensorflow as tf
import torch
from torch import nn

from ...backends.flax.losses import cross_entropy as flax_cross_entropy
from ...backends.flax.losses import sequence_classification_loss as flax_sequence_classification_loss
from ...backends.tf.activations import get_tf_activation
from ...backends.tf.losses import cross_entropy as tf_cross_entropy
from ...backends.tf.losses import sequence_classification_loss as tf_sequence_classification_loss
from ...backends.tf.modeling_tf_utils import TFLayer
from ...backends.tf.tf_utils import get_initializer, shape_list
from ...backends.torch.losses import cross_entropy as torch_cross_entropy
from ...backends.torch.losses import sequence_classification_loss as torch_sequence_classification_loss
from ...core.outputs import MaskedLMOutput, SequenceClassifierOutput, finish_output
from ..bert.configuration_bert import BertConfig
from ..bert.modeling_bert import (
    BertEmbeddings,
    BertForMaskedLM,
    BertForMultipleChoice,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
    BertPreTrainedModel,
)
from ..bert.modeling_flax_bert import (
    FlaxBertEmbeddings,
    FlaxBertForMaskedLM,
    FlaxBertForMaskedLMModule,
    FlaxBertForMultipleChoice,
    FlaxBertForQuestionAnswering,
    FlaxBertForSequenceClassification,
    FlaxBertForSequenceClassificationModule,
    FlaxBertForTokenClassification,
    FlaxBertModel,
    FlaxBertModule,
    FlaxBertPreTrainedModel,
    _dense,
    _layer_norm,
    _tied_word_embeddings,
)
from ..bert.modeling_tf_bert import (
    TFBertEmbeddings,
    TFBertForMaskedLM,
    TFBertForMultipleChoice,
    TFBertForQuestionAnswering,
    TFBertForSequenceClassification,
    TFBertForTokenClassification,
    TFBertModel,
    TFBertPreTrainedModel,
)


class RobertaConfig(BertConfig):
    """Configuration of a RoBERTa model; the defaults give roberta-base.

    Args:
        bos_token_id: Id of the beginning-of-sequence token (<s>).
        eos_token_id: Id of the end-of-sequence token (</s>).
    """

    model_type = "roberta"

    def __init__(
        self,
        vocab_size: int = 50265,
        max_position_embeddings: int = 514,
        type_vocab_size: int = 1,
        layer_norm_eps: float = 1e-05,
        pad_token_id: int = 1,
        bos_token_id: int = 0,
        eos_token_id: int = 2,
        **kwargs: Any,
    ):
        super().__init__(
            vocab_size=vocab_size,
            max_position_embeddings=max_position_embeddings,
            type_vocab_size=type_vocab_size,
            layer_norm_eps=layer_norm_eps,
            pad_token_id=pad_token_id,
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            **kwargs,
        )


def create_position_ids_from_input_ids(input_ids: torch.Tensor, padding_idx: int) -> torch.Tensor:
    """Positions counted from padding_idx + 1 over real tokens; padding tokens keep padding_idx."""
    mask = input_ids.ne(padding_idx).int()
    return (torch.cumsum(mask, dim=1).type_as(mask) * mask).long() + padding_idx


class RobertaEmbeddings(BertEmbeddings):
    def __init__(self, config: RobertaConfig):
        super().__init__(config)
        self.padding_idx = config.pad_token_id
        self.position_embeddings = nn.Embedding(
            config.max_position_embeddings, config.hidden_size, padding_idx=config.pad_token_id
        )

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if position_ids is None:
            if input_ids is not None:
                position_ids = create_position_ids_from_input_ids(input_ids, self.padding_idx)
            else:  # no ids to find padding in: every position is real
                seq_length = inputs_embeds.shape[1]
                position_ids = torch.arange(
                    self.padding_idx + 1, seq_length + self.padding_idx + 1, device=inputs_embeds.device
                )[None]
        return super().forward(input_ids, token_type_ids, position_ids, inputs_embeds)


class RobertaPreTrainedModel(BertPreTrainedModel):
    def _max_input_length(self) -> int | None:
        """Positions start after the padding index, so the position table holds fewer tokens than its rows."""
        return self.config.max_position_embeddings - self.config.pad_token_id - 1


class RobertaModel(BertModel):
    pass


class RobertaLMHead(nn.Module):
    """Dense -> gelu -> LayerNorm, then the (tied) vocabulary projection with its own bias."""

    def __init__(self, config: RobertaConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        self.decoder.bias = self.bias

    def _tie_weights(self) -> None:
        self.decoder.bias = self.bias

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.layer_norm(nn.functional.gelu(self.dense(features))))


class RobertaForMaskedLM(BertForMaskedLM):
    _tied_weights_keys = ["lm_head.decoder.weight"]
    _shared_weights_keys = ["lm_head.decoder.bias"]
    _keys_to_ignore_on_load_unexpected = [r"position_ids$", r"^roberta\.pooler\."]

    def __init__(self, config: RobertaConfig):
        super().__init__(config)
        del self.cls
        self.lm_head = RobertaLMHead(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head.decoder

    def forward(
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
        )
        prediction_scores = self.lm_head(outputs.last_hidden_state)
        loss = torch_cross_entropy(prediction_scores, labels) if labels is not None else None
        return finish_output(
            MaskedLMOutput(
                loss=loss,
                logits=prediction_scores,
                hidden_states=outputs.hidden_states,
                attentions=outputs.attentions,
            ),
            return_dict,
        )


class RobertaClassificationHead(nn.Module):
    """Classification on the <s> token: dropout -> dense -> tanh -> dropout -> projection."""

    def __init__(self, config: RobertaConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        classifier_dropout = (
            config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        )
        self.dropout = nn.Dropout(classifier_dropout)
        self.out_proj = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.dropout(features[:, 0, :])
        x = torch.tanh(self.dense(x))
        return self.out_proj(self.dropout(x))


class RobertaForSequenceClassification(BertForSequenceClassification):
    def __init__(self, config: RobertaConfig):
        super().__init__(config)
        self.roberta = RobertaModel(config, add_pooling_layer=False)
        self.classifier = RobertaClassificationHead(config)
        del self.dropout

    def forward(
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
        )
        logits = self.classifier(outputs.last_hidden_state)
        loss = torch_sequence_classification_loss(self.config, logits, labels) if labels is not None else None
        return finish_output(
            SequenceClassifierOutput(
                loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
            ),
            return_dict,
        )


class RobertaForMultipleChoice(BertForMultipleChoice):
    pass


class RobertaForTokenClassification(BertForTokenClassification):
    pass


class RobertaForQuestionAnswering(BertForQuestionAnswering):
    pass


class TFRobertaEmbeddings(TFBertEmbeddings):
    def __init__(self, config: RobertaConfig, **kwargs):
        super().__init__(config, **kwargs)
        self.padding_idx = config.pad_token_id

    def call(
        self,
        input_ids: tf.Tensor | None = None,
        token_type_ids: tf.Tensor | None = None,
        position_ids: tf.Tensor | None = None,
        inputs_embeds: tf.Tensor | None = None,
        training: bool = False,
    ) -> tf.Tensor:
        if position_ids is None:
            if input_ids is not None:
                mask = tf.cast(tf.math.not_equal(input_ids, self.padding_idx), input_ids.dtype)
                position_ids = tf.math.cumsum(mask, axis=1) * mask + self.padding_idx
            else:
                seq_length = shape_list(inputs_embeds)[1]
                position_ids = tf.range(self.padding_idx + 1, seq_length + self.padding_idx + 1)[None, :]
        return super().call(input_ids, token_type_ids, position_ids, inputs_embeds, training=training)


class TFRobertaPreTrainedModel(TFBertPreTrainedModel):
    def _max_input_length(self) -> int | None:
        """Positions start after the padding index, so the position table holds fewer tokens than its rows."""
        return self.config.max_position_embeddings - self.config.pad_token_id - 1


class TFRobertaModel(TFBertModel):
    pass


class TFRobertaLMHead(TFLayer):
    """Dense -> gelu -> LayerNorm, then the word embeddings (tied) as the decoder, plus a bias."""

    def __init__(self, config: RobertaConfig, input_embeddings: keras.layers.Embedding, **kwargs):
        super().__init__(**kwargs)
        initializer = get_initializer(config.initializer_range)
        self.dense = keras.layers.Dense(config.hidden_size, kernel_initializer=initializer)
        self.layer_norm = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps)
        self.act = get_tf_activation("gelu")
        if config.tie_word_embeddings:
            self.decoder = input_embeddings
        else:
            self.decoder = keras.layers.Embedding(
                config.vocab_size, config.hidden_size, embeddings_initializer=initializer
            )
            self.decoder.build()
        self.bias = self.add_weight(name="bias", shape=(config.vocab_size,), initializer="zeros")

    def call(self, features: tf.Tensor) -> tf.Tensor:
        hidden_states = self.layer_norm(self.act(self.dense(features)))
        return tf.matmul(hidden_states, self.decoder.embeddings, transpose_b=True) + self.bias


class TFRobertaForMaskedLM(TFBertForMaskedLM):
    _tied_weights_keys = ["lm_head.decoder.weight"]
    _shared_weights_keys = ["lm_head.decoder.bias"]
    _keys_to_ignore_on_load_unexpected = [r"position_ids$", r"^roberta\.pooler\."]

    def __init__(self, config: RobertaConfig, **kwargs):
        super().__init__(config, **kwargs)
        del self.cls
        self.lm_head = TFRobertaLMHead(config, self.roberta.get_input_embeddings())
        self.post_init()

    def get_output_embeddings(self) -> keras.layers.Embedding:
        return self.lm_head.decoder

    def set_output_embeddings(self, value: keras.layers.Embedding) -> None:
        self.lm_head.decoder = value

    def get_output_bias(self) -> keras.Variable:
        return self.lm_head.bias

    def set_output_bias(self, value: keras.Variable) -> None:
        self.lm_head.bias = value

    def call(
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
        training: bool = False,
    ) -> MaskedLMOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.roberta(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            head_mask,
            inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            training=training,
        )
        prediction_scores = self.lm_head(outputs.last_hidden_state)
        loss = tf_cross_entropy(prediction_scores, labels) if labels is not None else None
        return finish_output(
            MaskedLMOutput(
                loss=loss,
                logits=prediction_scores,
                hidden_states=outputs.hidden_states,
                attentions=outputs.attentions,
            ),
            return_dict,
        )


class TFRobertaClassificationHead(TFLayer):
    """Classification on the <s> token: dropout -> dense -> tanh -> dropout -> projection."""

    def __init__(self, config: RobertaConfig, **kwargs):
        super().__init__(**kwargs)
        initializer = get_initializer(config.initializer_range)
        self.dense = keras.layers.Dense(config.hidden_size, kernel_initializer=initializer)
        classifier_dropout = (
            config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        )
        self.dropout = keras.layers.Dropout(classifier_dropout)
        self.out_proj = keras.layers.Dense(config.num_labels, kernel_initializer=initializer)

    def call(self, features: tf.Tensor, training: bool = False) -> tf.Tensor:
        x = self.dropout(features[:, 0, :], training=training)
        x = tf.tanh(self.dense(x))
        return self.out_proj(self.dropout(x, training=training))


class TFRobertaForSequenceClassification(TFBertForSequenceClassification):
    def __init__(self, config: RobertaConfig, **kwargs):
        super().__init__(config, **kwargs)
        self.roberta = TFRobertaModel(config, add_pooling_layer=False)
        self.classifier = TFRobertaClassificationHead(config)
        del self.dropout

    def call(
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
        training: bool = False,
    ) -> SequenceClassifierOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.roberta(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            head_mask,
            inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            training=training,
        )
        logits = self.classifier(outputs.last_hidden_state, training=training)
        loss = tf_sequence_classification_loss(self.config, logits, labels) if labels is not None else None
        return finish_output(
            SequenceClassifierOutput(
                loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
            ),
            return_dict,
        )


class TFRobertaForMultipleChoice(TFBertForMultipleChoice):
    pass


class TFRobertaForTokenClassification(TFBertForTokenClassification):
    pass


class TFRobertaForQuestionAnswering(TFBertForQuestionAnswering):
    pass


class FlaxRobertaEmbeddings(FlaxBertEmbeddings):
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
        return super().__call__(input_ids, token_type_ids, position_ids, inputs_embeds, deterministic)


class FlaxRobertaPreTrainedModel(FlaxBertPreTrainedModel):
    def _max_input_length(self) -> int | None:
        """Positions start after the padding index, so the position table holds fewer tokens than its rows."""
        return self.config.max_position_embeddings - self.config.pad_token_id - 1


class FlaxRobertaModule(FlaxBertModule):
    pass


class FlaxRobertaModel(FlaxBertModel):
    pass


class FlaxRobertaLMHead(fnn.Module):
    """Dense -> gelu -> LayerNorm, then the word embeddings (tied) or a decoder, plus a bias."""

    config: RobertaConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        self.dense = _dense(self.config.hidden_size, self.dtype)
        self.layer_norm = _layer_norm(self.config, self.dtype)
        if not self.config.tie_word_embeddings:
            self.decoder = _dense(self.config.vocab_size, self.dtype, use_bias=False)
        self.bias = self.param("bias", fnn.initializers.zeros, (self.config.vocab_size,), self.dtype)

    def __call__(self, features: jax.Array, word_embeddings: fnn.Embed | None = None) -> jax.Array:
        hidden_states = self.layer_norm(jax.nn.gelu(self.dense(features), approximate=False))
        if self.config.tie_word_embeddings:
            logits = word_embeddings.attend(hidden_states)
        else:
            logits = self.decoder(hidden_states)
        return logits + self.bias


class FlaxRobertaForMaskedLMModule(FlaxBertForMaskedLMModule):
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
        loss = flax_cross_entropy(prediction_scores, labels) if labels is not None else None
        return finish_output(
            MaskedLMOutput(
                loss=loss,
                logits=prediction_scores,
                hidden_states=outputs.hidden_states,
                attentions=outputs.attentions,
            ),
            return_dict,
        )


class FlaxRobertaForMaskedLM(FlaxBertForMaskedLM):
    module_class = FlaxRobertaForMaskedLMModule
    _tied_weights_keys = ["lm_head.decoder.weight"]
    _shared_weights_keys = ["lm_head.decoder.bias"]
    _keys_to_ignore_on_load_unexpected = [r"position_ids$", r"^roberta\.pooler\."]
    _output_embeddings_path = ("lm_head", "decoder", "kernel")
    _output_bias_path = ("lm_head", "bias")


class FlaxRobertaClassificationHead(fnn.Module):
    """Classification on the <s> token: dropout -> dense -> tanh -> dropout -> projection."""

    config: RobertaConfig
    dtype: Any = jnp.float32

    def setup(self) -> None:
        config = self.config
        self.dense = _dense(config.hidden_size, self.dtype)
        classifier_dropout = (
            config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        )
        self.dropout = fnn.Dropout(classifier_dropout)
        self.out_proj = _dense(config.num_labels, self.dtype)

    def __call__(self, features: jax.Array, deterministic: bool = True) -> jax.Array:
        x = self.dropout(features[:, 0, :], deterministic=deterministic)
        x = jnp.tanh(self.dense(x))
        return self.out_proj(self.dropout(x, deterministic=deterministic))


class FlaxRobertaForSequenceClassificationModule(FlaxBertForSequenceClassificationModule):
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
        loss = flax_sequence_classification_loss(self.config, logits, labels) if labels is not None else None
        return finish_output(
            SequenceClassifierOutput(
                loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
            ),
            return_dict,
        )


class FlaxRobertaForSequenceClassification(FlaxBertForSequenceClassification):
    module_class = FlaxRobertaForSequenceClassificationModule


class FlaxRobertaForMultipleChoice(FlaxBertForMultipleChoice):
    pass


class FlaxRobertaForTokenClassification(FlaxBertForTokenClassification):
    pass


class FlaxRobertaForQuestionAnswering(FlaxBertForQuestionAnswering):
    pass
