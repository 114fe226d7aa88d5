"""BERT in TensorFlow/Keras: config -> embeddings -> attention -> layer -> encoder -> pretrained base -> heads.

The torch file, layer for layer: attributes carry the torch module names, so every weight's
path maps to Hugging Face's parameter name by the generic rules and the same checkpoint
loads here, in torch and in Flax. Dropout is active only in calls with `training=True`.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from ...backends.tf.activations import get_tf_activation
from ...backends.tf.losses import cross_entropy, question_answering_loss, sequence_classification_loss
from ...backends.tf.modeling_tf_utils import TFLayer, TFPreTrainedModel, checkpointed_call
from ...backends.tf.tf_utils import (
    extended_attention_mask,
    find_pruneable_heads_and_indices,
    get_initializer,
    head_mask_per_layer,
    prune_dense_layer,
    shape_list,
)
from ...core.errors import InputError
from ...core.outputs import (
    BaseModelOutput,
    BaseModelOutputWithPooling,
    MaskedLMOutput,
    MultipleChoiceModelOutput,
    NextSentencePredictorOutput,
    PreTrainingOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
    finish_output,
)
from .configuration_bert import BertConfig


class TFBertEmbeddings(TFLayer):
    """Word + position + token type embeddings, then LayerNorm and dropout."""

    def __init__(self, config: BertConfig, **kwargs):
        super().__init__(**kwargs)
        initializer = get_initializer(config.initializer_range)
        self.word_embeddings = keras.layers.Embedding(
            config.vocab_size, config.hidden_size, embeddings_initializer=initializer
        )
        self.position_embeddings = keras.layers.Embedding(
            config.max_position_embeddings, config.hidden_size, embeddings_initializer=initializer
        )
        self.token_type_embeddings = keras.layers.Embedding(
            config.type_vocab_size, config.hidden_size, embeddings_initializer=initializer
        )
        self.LayerNorm = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps)
        self.dropout = keras.layers.Dropout(config.hidden_dropout_prob)

    def call(
        self,
        input_ids: tf.Tensor | None = None,
        token_type_ids: tf.Tensor | None = None,
        position_ids: tf.Tensor | None = None,
        inputs_embeds: tf.Tensor | None = None,
        training: bool = False,
    ) -> tf.Tensor:
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        seq_length = shape_list(inputs_embeds)[1]
        if position_ids is None:
            position_ids = tf.range(seq_length)[None, :]
        if token_type_ids is None:
            token_type_ids = tf.zeros(shape_list(inputs_embeds)[:2], dtype=tf.int32)
        embeddings = (
            inputs_embeds
            + self.token_type_embeddings(token_type_ids)
            + self.position_embeddings(position_ids)
        )
        return self.dropout(self.LayerNorm(embeddings), training=training)


class TFBertSelfAttention(TFLayer):
    def __init__(self, config: BertConfig, **kwargs):
        super().__init__(**kwargs)
        if config.hidden_size % config.num_attention_heads != 0:
            raise InputError(
                f"hidden_size ({config.hidden_size}) must be a multiple of num_attention_heads ({config.num_attention_heads})."
            )
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = config.hidden_size // config.num_attention_heads
        self.all_head_size = self.num_attention_heads * self.attention_head_size
        initializer = get_initializer(config.initializer_range)
        self.query = keras.layers.Dense(self.all_head_size, kernel_initializer=initializer)
        self.key = keras.layers.Dense(self.all_head_size, kernel_initializer=initializer)
        self.value = keras.layers.Dense(self.all_head_size, kernel_initializer=initializer)
        self.dropout = keras.layers.Dropout(config.attention_probs_dropout_prob)

    def split_heads(self, x: tf.Tensor) -> tf.Tensor:
        batch, seq, _ = shape_list(x)
        x = tf.reshape(x, (batch, seq, self.num_attention_heads, self.attention_head_size))
        return tf.transpose(x, (0, 2, 1, 3))

    def call(
        self,
        hidden_states: tf.Tensor,
        attention_mask: tf.Tensor | None = None,
        head_mask: tf.Tensor | None = None,
        output_attentions: bool = False,
        training: bool = False,
    ) -> tuple[tf.Tensor, tf.Tensor | None]:
        query = self.split_heads(self.query(hidden_states))
        key = self.split_heads(self.key(hidden_states))
        value = self.split_heads(self.value(hidden_states))

        scores = tf.matmul(query, key, transpose_b=True) / math.sqrt(self.attention_head_size)
        if attention_mask is not None:
            scores = scores + attention_mask
        probs = self.dropout(tf.nn.softmax(scores, axis=-1), training=training)
        if head_mask is not None:
            probs = probs * head_mask
        context = tf.matmul(probs, value)
        batch, _, seq, _ = shape_list(context)
        context = tf.reshape(tf.transpose(context, (0, 2, 1, 3)), (batch, seq, self.all_head_size))
        return context, probs if output_attentions else None


class TFBertSelfOutput(TFLayer):
    def __init__(self, config: BertConfig, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(
            config.hidden_size, kernel_initializer=get_initializer(config.initializer_range)
        )
        self.LayerNorm = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps)
        self.dropout = keras.layers.Dropout(config.hidden_dropout_prob)

    def call(self, hidden_states: tf.Tensor, input_tensor: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden_states), training=training) + input_tensor)


class TFBertAttention(TFLayer):
    def __init__(self, config: BertConfig, **kwargs):
        super().__init__(**kwargs)
        self.self = TFBertSelfAttention(config)
        self.output = TFBertSelfOutput(config)
        self.pruned_heads: set[int] = set()

    def prune_heads(self, heads: list[int]) -> None:
        if not heads:
            return
        heads, index = find_pruneable_heads_and_indices(
            heads, self.self.num_attention_heads, self.self.attention_head_size, self.pruned_heads
        )
        self.self.query = prune_dense_layer(self.self.query, index)
        self.self.key = prune_dense_layer(self.self.key, index)
        self.self.value = prune_dense_layer(self.self.value, index)
        self.output.dense = prune_dense_layer(self.output.dense, index, dim=1)
        self.self.num_attention_heads -= len(heads)
        self.self.all_head_size = self.self.attention_head_size * self.self.num_attention_heads
        self.pruned_heads |= heads

    def call(
        self,
        hidden_states: tf.Tensor,
        attention_mask: tf.Tensor | None = None,
        head_mask: tf.Tensor | None = None,
        output_attentions: bool = False,
        training: bool = False,
    ) -> tuple[tf.Tensor, tf.Tensor | None]:
        context, probs = self.self(
            hidden_states, attention_mask, head_mask, output_attentions=output_attentions, training=training
        )
        return self.output(context, hidden_states, training=training), probs


class TFBertIntermediate(TFLayer):
    def __init__(self, config: BertConfig, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(
            config.intermediate_size, kernel_initializer=get_initializer(config.initializer_range)
        )
        self.intermediate_act_fn = get_tf_activation(config.hidden_act)

    def call(self, hidden_states: tf.Tensor) -> tf.Tensor:
        return self.intermediate_act_fn(self.dense(hidden_states))


class TFBertOutput(TFLayer):
    def __init__(self, config: BertConfig, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(
            config.hidden_size, kernel_initializer=get_initializer(config.initializer_range)
        )
        self.LayerNorm = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps)
        self.dropout = keras.layers.Dropout(config.hidden_dropout_prob)

    def call(self, hidden_states: tf.Tensor, input_tensor: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden_states), training=training) + input_tensor)


class TFBertLayer(TFLayer):
    def __init__(self, config: BertConfig, **kwargs):
        super().__init__(**kwargs)
        self.attention = TFBertAttention(config)
        self.intermediate = TFBertIntermediate(config)
        self.output = TFBertOutput(config)

    def call(
        self,
        hidden_states: tf.Tensor,
        attention_mask: tf.Tensor | None = None,
        head_mask: tf.Tensor | None = None,
        output_attentions: bool = False,
        training: bool = False,
    ) -> tuple[tf.Tensor, tf.Tensor | None]:
        attention_output, probs = self.attention(
            hidden_states, attention_mask, head_mask, output_attentions=output_attentions, training=training
        )
        layer_output = self.output(self.intermediate(attention_output), attention_output, training=training)
        return layer_output, probs


class TFBertEncoder(TFLayer):
    def __init__(self, config: BertConfig, **kwargs):
        super().__init__(**kwargs)
        self.layer = [TFBertLayer(config) for _ in range(config.num_hidden_layers)]

    def call(
        self,
        hidden_states: tf.Tensor,
        attention_mask: tf.Tensor | None = None,
        head_mask: list[tf.Tensor | None] | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        training: bool = False,
    ) -> BaseModelOutput:
        all_hidden_states = (hidden_states,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        head_mask = head_mask or [None] * len(self.layer)
        for layer, layer_head_mask in zip(self.layer, head_mask):
            hidden_states, probs = checkpointed_call(
                self,
                layer,
                hidden_states,
                attention_mask,
                layer_head_mask,
                output_attentions=output_attentions,
                training=training,
            )
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            if output_attentions:
                all_attentions += (probs,)
        return BaseModelOutput(
            last_hidden_state=hidden_states, hidden_states=all_hidden_states, attentions=all_attentions
        )


class TFBertPooler(TFLayer):
    """The first token's hidden state through a dense layer and tanh."""

    def __init__(self, config: BertConfig, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(
            config.hidden_size, kernel_initializer=get_initializer(config.initializer_range)
        )
        self.activation = get_tf_activation("tanh")

    def call(self, hidden_states: tf.Tensor) -> tf.Tensor:
        return self.activation(self.dense(hidden_states[:, 0]))


class TFBertPredictionHeadTransform(TFLayer):
    def __init__(self, config: BertConfig, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(
            config.hidden_size, kernel_initializer=get_initializer(config.initializer_range)
        )
        self.transform_act_fn = get_tf_activation(config.hidden_act)
        self.LayerNorm = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps)

    def call(self, hidden_states: tf.Tensor) -> tf.Tensor:
        return self.LayerNorm(self.transform_act_fn(self.dense(hidden_states)))


class TFBertLMPredictionHead(TFLayer):
    """Transform, then project onto the vocabulary with the (tied) word embeddings and a bias.

    The decoder is the word embedding layer itself (its [vocab, hidden] weight is torch's
    `decoder.weight`), or a layer of its own when the config unties them.
    """

    def __init__(self, config: BertConfig, input_embeddings: keras.layers.Embedding, **kwargs):
        super().__init__(**kwargs)
        self.transform = TFBertPredictionHeadTransform(config)
        if config.tie_word_embeddings:
            self.decoder = input_embeddings
        else:
            self.decoder = keras.layers.Embedding(
                config.vocab_size,
                config.hidden_size,
                embeddings_initializer=get_initializer(config.initializer_range),
            )
            self.decoder.build()
        self.bias = self.add_weight(name="bias", shape=(config.vocab_size,), initializer="zeros")

    def call(self, hidden_states: tf.Tensor) -> tf.Tensor:
        return tf.matmul(self.transform(hidden_states), self.decoder.embeddings, transpose_b=True) + self.bias


class TFBertOnlyMLMHead(TFLayer):
    def __init__(self, config: BertConfig, input_embeddings: keras.layers.Embedding, **kwargs):
        super().__init__(**kwargs)
        self.predictions = TFBertLMPredictionHead(config, input_embeddings)

    def call(self, sequence_output: tf.Tensor) -> tf.Tensor:
        return self.predictions(sequence_output)


class TFBertOnlyNSPHead(TFLayer):
    def __init__(self, config: BertConfig, **kwargs):
        super().__init__(**kwargs)
        self.seq_relationship = keras.layers.Dense(
            2, kernel_initializer=get_initializer(config.initializer_range)
        )

    def call(self, pooled_output: tf.Tensor) -> tf.Tensor:
        return self.seq_relationship(pooled_output)


class TFBertPreTrainingHeads(TFLayer):
    def __init__(self, config: BertConfig, input_embeddings: keras.layers.Embedding, **kwargs):
        super().__init__(**kwargs)
        self.predictions = TFBertLMPredictionHead(config, input_embeddings)
        self.seq_relationship = keras.layers.Dense(
            2, kernel_initializer=get_initializer(config.initializer_range)
        )

    def call(self, sequence_output: tf.Tensor, pooled_output: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return self.predictions(sequence_output), self.seq_relationship(pooled_output)


class TFBertPreTrainedModel(TFPreTrainedModel):
    config_class = BertConfig
    supports_gradient_checkpointing = True
    base_model_prefix = "bert"
    _keys_to_ignore_on_load_unexpected = [r"position_ids$"]


class TFBertModel(TFBertPreTrainedModel):
    """The bare BERT encoder; `add_pooling_layer=False` leaves out the pooler (MLM and token heads)."""

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True, **kwargs):
        super().__init__(config, **kwargs)
        self.embeddings = TFBertEmbeddings(config)
        self.encoder = TFBertEncoder(config)
        self.pooler = TFBertPooler(config) if add_pooling_layer else None
        self.post_init()

    def get_input_embeddings(self) -> keras.layers.Embedding:
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value: keras.layers.Embedding) -> None:
        self.embeddings.word_embeddings = value

    def _prune_heads(self, heads_to_prune: dict[int, list[int]]) -> None:
        for layer, heads in heads_to_prune.items():
            self.encoder.layer[layer].attention.prune_heads(heads)

    def call(
        self,
        input_ids: tf.Tensor | None = None,
        attention_mask: tf.Tensor | None = None,
        token_type_ids: tf.Tensor | None = None,
        position_ids: tf.Tensor | None = None,
        head_mask: tf.Tensor | None = None,
        inputs_embeds: tf.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        training: bool = False,
    ) -> BaseModelOutputWithPooling | tuple:
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        return_dict = self.config.return_dict if return_dict is None else return_dict
        if (input_ids is None) == (inputs_embeds is None):
            raise InputError("Pass exactly one of input_ids or inputs_embeds.")

        embedding_output = self.embeddings(
            input_ids, token_type_ids, position_ids, inputs_embeds, training=training
        )
        dtype = embedding_output.dtype
        mask = extended_attention_mask(attention_mask, dtype) if attention_mask is not None else None
        encoder_outputs = self.encoder(
            embedding_output,
            mask,
            head_mask=head_mask_per_layer(head_mask, self.config.num_hidden_layers, dtype),
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            training=training,
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


class TFBertForPreTraining(TFBertPreTrainedModel):
    _tied_weights_keys = ["cls.predictions.decoder.weight"]
    _shared_weights_keys = ["cls.predictions.decoder.bias"]

    def __init__(self, config: BertConfig, **kwargs):
        super().__init__(config, **kwargs)
        self.bert = TFBertModel(config)
        self.cls = TFBertPreTrainingHeads(config, self.bert.get_input_embeddings())
        self.post_init()

    def get_output_embeddings(self) -> keras.layers.Embedding:
        return self.cls.predictions.decoder

    def set_output_embeddings(self, value: keras.layers.Embedding) -> None:
        self.cls.predictions.decoder = value

    def get_output_bias(self) -> keras.Variable:
        return self.cls.predictions.bias

    def set_output_bias(self, value: keras.Variable) -> None:
        self.cls.predictions.bias = value

    def call(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        head_mask=None,
        inputs_embeds=None,
        labels=None,
        next_sentence_label=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        training: bool = False,
    ) -> PreTrainingOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.bert(
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
        prediction_scores, seq_relationship_score = self.cls(outputs.last_hidden_state, outputs.pooler_output)
        loss = None
        if labels is not None and next_sentence_label is not None:
            loss = cross_entropy(prediction_scores, labels) + cross_entropy(
                seq_relationship_score, next_sentence_label
            )
        return finish_output(
            PreTrainingOutput(
                loss=loss,
                prediction_logits=prediction_scores,
                seq_relationship_logits=seq_relationship_score,
                hidden_states=outputs.hidden_states,
                attentions=outputs.attentions,
            ),
            return_dict,
        )


class TFBertForMaskedLM(TFBertPreTrainedModel):
    _tied_weights_keys = ["cls.predictions.decoder.weight"]
    _shared_weights_keys = ["cls.predictions.decoder.bias"]
    _keys_to_ignore_on_load_unexpected = [r"position_ids$", r"^bert\.pooler\.", r"^cls\.seq_relationship\."]

    def __init__(self, config: BertConfig, **kwargs):
        super().__init__(config, **kwargs)
        self.bert = TFBertModel(config, add_pooling_layer=False)
        self.cls = TFBertOnlyMLMHead(config, self.bert.get_input_embeddings())
        self.post_init()

    def get_output_embeddings(self) -> keras.layers.Embedding:
        return self.cls.predictions.decoder

    def set_output_embeddings(self, value: keras.layers.Embedding) -> None:
        self.cls.predictions.decoder = value

    def get_output_bias(self) -> keras.Variable:
        return self.cls.predictions.bias

    def set_output_bias(self, value: keras.Variable) -> None:
        self.cls.predictions.bias = value

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
        outputs = self.bert(
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
        prediction_scores = self.cls(outputs.last_hidden_state)
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


class TFBertForNextSentencePrediction(TFBertPreTrainedModel):
    _keys_to_ignore_on_load_unexpected = [r"position_ids$", r"^cls\.predictions\."]

    def __init__(self, config: BertConfig, **kwargs):
        super().__init__(config, **kwargs)
        self.bert = TFBertModel(config)
        self.cls = TFBertOnlyNSPHead(config)
        self.post_init()

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
    ) -> NextSentencePredictorOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.bert(
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
        seq_relationship_scores = self.cls(outputs.pooler_output)
        loss = cross_entropy(seq_relationship_scores, labels) if labels is not None else None
        return finish_output(
            NextSentencePredictorOutput(
                loss=loss,
                logits=seq_relationship_scores,
                hidden_states=outputs.hidden_states,
                attentions=outputs.attentions,
            ),
            return_dict,
        )


class TFBertForSequenceClassification(TFBertPreTrainedModel):
    def __init__(self, config: BertConfig, **kwargs):
        super().__init__(config, **kwargs)
        self.num_labels = config.num_labels
        self.bert = TFBertModel(config)
        classifier_dropout = (
            config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        )
        self.dropout = keras.layers.Dropout(classifier_dropout)
        self.classifier = keras.layers.Dense(
            config.num_labels, kernel_initializer=get_initializer(config.initializer_range)
        )
        self.post_init()

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
        outputs = self.bert(
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
        logits = self.classifier(self.dropout(outputs.pooler_output, training=training))
        loss = sequence_classification_loss(self.config, logits, labels) if labels is not None else None
        return finish_output(
            SequenceClassifierOutput(
                loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
            ),
            return_dict,
        )


class TFBertForMultipleChoice(TFBertPreTrainedModel):
    """Inputs of shape [batch, num_choices, seq]; one score per choice."""

    def __init__(self, config: BertConfig, **kwargs):
        super().__init__(config, **kwargs)
        self.bert = TFBertModel(config)
        classifier_dropout = (
            config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        )
        self.dropout = keras.layers.Dropout(classifier_dropout)
        self.classifier = keras.layers.Dense(1, kernel_initializer=get_initializer(config.initializer_range))
        self.post_init()

    @property
    def dummy_inputs(self) -> dict[str, tf.Tensor]:
        return {"input_ids": super().dummy_inputs["input_ids"][None]}  # [batch, num_choices, seq]

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
    ) -> MultipleChoiceModelOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        num_choices = shape_list(input_ids)[1] if input_ids is not None else shape_list(inputs_embeds)[1]

        def flat(x):
            return tf.reshape(x, (-1, *shape_list(x)[2:])) if x is not None else None

        outputs = self.bert(
            flat(input_ids),
            flat(attention_mask),
            flat(token_type_ids),
            flat(position_ids),
            head_mask,
            flat(inputs_embeds),
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            training=training,
        )
        logits = tf.reshape(
            self.classifier(self.dropout(outputs.pooler_output, training=training)), (-1, num_choices)
        )
        loss = cross_entropy(logits, labels) if labels is not None else None
        return finish_output(
            MultipleChoiceModelOutput(
                loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
            ),
            return_dict,
        )


class TFBertForTokenClassification(TFBertPreTrainedModel):
    _keys_to_ignore_on_load_unexpected = [r"position_ids$", r"^bert\.pooler\."]

    def __init__(self, config: BertConfig, **kwargs):
        super().__init__(config, **kwargs)
        self.num_labels = config.num_labels
        self.bert = TFBertModel(config, add_pooling_layer=False)
        classifier_dropout = (
            config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        )
        self.dropout = keras.layers.Dropout(classifier_dropout)
        self.classifier = keras.layers.Dense(
            config.num_labels, kernel_initializer=get_initializer(config.initializer_range)
        )
        self.post_init()

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
    ) -> TokenClassifierOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.bert(
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
        logits = self.classifier(self.dropout(outputs.last_hidden_state, training=training))
        loss = cross_entropy(logits, labels) if labels is not None else None
        return finish_output(
            TokenClassifierOutput(
                loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
            ),
            return_dict,
        )


class TFBertForQuestionAnswering(TFBertPreTrainedModel):
    _keys_to_ignore_on_load_unexpected = [r"position_ids$", r"^bert\.pooler\."]

    def __init__(self, config: BertConfig, **kwargs):
        super().__init__(config, **kwargs)
        self.num_labels = config.num_labels
        self.bert = TFBertModel(config, add_pooling_layer=False)
        self.qa_outputs = keras.layers.Dense(
            config.num_labels, kernel_initializer=get_initializer(config.initializer_range)
        )
        self.post_init()

    def call(
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
        training: bool = False,
    ) -> QuestionAnsweringModelOutput | tuple:
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.bert(
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
        logits = self.qa_outputs(outputs.last_hidden_state)
        start_logits, end_logits = tf.unstack(logits, axis=-1)
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
