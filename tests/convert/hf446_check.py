"""Run by the transformers 4.46.3 side venv: load folders in TF, Flax or PyTorch the way users of
transformers 4.x do, and print (as JSON) what was missing/unexpected and how far every weight is
from a canonical reference safetensors file.

    <venv>/bin/python tests/convert/hf446_check.py FRAMEWORK CLASS FOLDER REFERENCE.safetensors [CLASS FOLDER REFERENCE ...]

One JSON line per (class, folder, reference), in order.
"""

import json
import sys

import numpy as np


def canonical_weights(framework: str, model) -> dict:
    """Weights under canonical names and layouts (for Flax, `model` is the params dict)."""
    if framework == "pt":
        return {k: v.detach().numpy() for k, v in model.state_dict().items()}
    if framework == "tf":
        from transformers.modeling_tf_pytorch_utils import convert_tf_weight_name_to_pt_weight_name

        out = {}
        for weight in model.weights:
            name, transpose = convert_tf_weight_name_to_pt_weight_name(
                weight.name, tf_weight_shape=weight.shape
            )
            value = weight.numpy()
            out[name] = value.T if transpose.name == "SIMPLE" else value
        return out
    from flax.traverse_util import flatten_dict

    out = {}
    for path, value in flatten_dict(model).items():  # the params themselves
        value = np.asarray(value)
        leaf = {"kernel": "weight", "scale": "weight", "embedding": "weight"}.get(path[-1], path[-1])
        out[".".join((*path[:-1], leaf))] = value.T if path[-1] == "kernel" else value
    return out


def load_flax(cls, folder: str):
    """Flax from_pretrained has no output_loading_info: compare the loaded params with the model's."""
    import jax
    from flax.traverse_util import flatten_dict

    model, params = cls.from_pretrained(folder, _do_init=False)
    expected = set(flatten_dict(jax.eval_shape(lambda: model.init_weights(jax.random.PRNGKey(0), (1, 1)))))
    loaded = set(flatten_dict(params))
    info = {
        "missing_keys": ["/".join(k) for k in expected - loaded],
        "unexpected_keys": ["/".join(k) for k in loaded - expected],
    }
    return params, info


def check(framework: str, class_name: str, folder: str, reference: str) -> dict:
    import transformers
    from safetensors.numpy import load_file

    cls = getattr(transformers, class_name)
    if framework == "flax":
        model, info = load_flax(cls, folder)
    else:
        model, info = cls.from_pretrained(folder, output_loading_info=True)
    ref = load_file(reference)
    prefix = getattr(cls, "base_model_prefix", "bert") + "."
    compared, worst = 0, 0.0
    for name, value in canonical_weights(framework, model).items():
        key = next((k for k in (name, prefix + name, name.removeprefix(prefix)) if k in ref), None)
        if key is None:
            continue
        compared += 1
        worst = max(
            worst,
            float(np.max(np.abs(value.astype(np.float64) - ref[key].astype(np.float64))))
            if value.size
            else 0.0,
        )
    info = {
        k: sorted(map(str, v))
        for k, v in info.items()
        if k in ("missing_keys", "unexpected_keys", "mismatched_keys")
    }
    return {
        "version": transformers.__version__,
        "folder": folder,
        "compared": compared,
        "max_abs_diff": worst,
        **info,
    }


def main() -> None:
    framework, jobs = sys.argv[1], sys.argv[2:]
    for i in range(0, len(jobs), 3):
        print(json.dumps(check(framework, *jobs[i : i + 3])), flush=True)


if __name__ == "__main__":
    main()
