"""Fixture writers that follow transformers 4.46's legacy layouts for BERT, written independently of
rosetta.convert.legacy: a hand-written name table, h5py and flax.serialization directly.

    tf_model.h5         Keras 2 `save_weights`: root attrs layer_names/backend/keras_version, one group
                        per layer with a `weight_names` attr, datasets at "<scope>/<name>:0"; the MLM
                        head's group lists the embeddings again (its decoder is the embedding layer)
    flax_model.msgpack  flax.serialization.to_bytes of the nested params (keys sorted, as JAX keeps them)

tests/convert/fixtures/hf446 holds the same layouts as written by transformers 4.46.3 itself; the
tests check these writers against them, then use the writers for variants (fp16, other sizes).
"""

from __future__ import annotations

import re

import numpy as np

TF_SCOPES = {"cls.predictions": "mlm___cls/predictions", "cls.seq_relationship": "nsp___cls/seq_relationship"}


def bert_tf_name(canonical: str) -> tuple[str, bool]:
    """(TF weight name without the model scope, transposed?) of a canonical BERT weight."""
    module, leaf = canonical.rsplit(".", 1)
    transpose = False
    if module.endswith("word_embeddings"):
        leaf = "weight"
    elif module.endswith(("position_embeddings", "token_type_embeddings")):
        leaf = "embeddings"
    elif module.endswith("LayerNorm"):
        leaf = {"weight": "gamma", "bias": "beta"}[leaf]
    elif leaf == "weight":
        leaf, transpose = "kernel", True
    for prefix, scope in TF_SCOPES.items():
        if module.startswith(prefix):
            module = scope + module[len(prefix) :]
    module = re.sub(r"\.(\d+)(?=\.|$)", r"_._\1", module)  # 'layer.0' -> 'layer_._0'
    return "/".join(re.split(r"\.(?!_)", module)) + f"/{leaf}:0", transpose


def bert_flax_path(canonical: str) -> tuple[tuple[str, ...], bool]:
    module, leaf = canonical.rsplit(".", 1)
    transpose = False
    if module.endswith("embeddings") and leaf == "weight":
        leaf = "embedding"
    elif module.endswith("LayerNorm"):
        leaf = {"weight": "scale", "bias": "bias"}[leaf]
    elif leaf == "weight":
        leaf, transpose = "kernel", True
    return (*module.split("."), leaf), transpose


def tf_weights(canonical: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The TF model's weights (names without scope), tied decoder weights dropped as TF has none."""
    out = {}
    for name, value in canonical.items():
        if name.startswith("cls.predictions.decoder.") or name.endswith("position_ids"):
            continue
        tf_name, transpose = bert_tf_name(name if name.startswith(("bert.", "cls.")) else "bert." + name)
        out[tf_name] = value.T if transpose else value
    return out


def write_tf_h5(path: str, canonical: dict[str, np.ndarray], scope: str) -> None:
    import h5py

    weights = tf_weights(canonical)
    layers: dict[str, list[str]] = {}
    for name in weights:
        layers.setdefault(name.split("/")[0], []).append(name)
    if "mlm___cls" in layers:
        layers["mlm___cls"] += [n for n in weights if n.startswith("bert/embeddings/")]
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [n.encode() for n in layers]
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.21.0"
        for layer in sorted(layers):
            group = f.create_group(layer)
            group.attrs["weight_names"] = [f"{scope}/{n}".encode() for n in layers[layer]]
            for name in layers[layer]:
                group.create_dataset(f"{scope}/{name}", data=weights[name])
        f.create_group("top_level_model_weights").attrs["weight_names"] = []


def flax_params(canonical: dict[str, np.ndarray]) -> dict:
    params: dict = {}
    for name, value in canonical.items():
        if name.startswith("cls.predictions.decoder.") or name.endswith("position_ids"):
            continue
        path, transpose = bert_flax_path(name)
        node = params
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = np.ascontiguousarray(value.T) if transpose else value
    return _sorted(params)


def _sorted(tree: dict) -> dict:
    return {k: _sorted(v) if isinstance(v, dict) else v for k, v in sorted(tree.items())}


def write_flax_msgpack(path: str, canonical: dict[str, np.ndarray]) -> None:
    from flax.serialization import to_bytes

    with open(path, "wb") as f:
        f.write(to_bytes(flax_params(canonical)))
