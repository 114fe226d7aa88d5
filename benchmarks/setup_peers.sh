#!/usr/bin/env bash
# Side environments holding the peers the benchmarks compare against: transformers 4.46.3, the
# last line with TFBertModel and FlaxBertModel. Used by `make bench`, never by CI.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)/.bench-envs"
mkdir -p "$root"
if [ ! -x "$root/tf446/bin/python" ]; then
  python3 -m venv "$root/tf446"
  "$root/tf446/bin/pip" install -q transformers==4.46.3 torch==2.13.0 tensorflow-cpu==2.21.0
  "$root/tf446/bin/pip" install -q --no-deps tf-keras==2.21.0   # else it pulls the full tensorflow wheel
fi
if [ ! -x "$root/flax446/bin/python" ]; then
  python3 -m venv "$root/flax446"
  "$root/flax446/bin/pip" install -q "numpy<2" jax==0.4.13 jaxlib==0.4.13 flax==0.7.0 transformers==4.46.3 "torch==2.13.0"
fi
echo "$root"
