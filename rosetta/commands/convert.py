"""`rosetta convert SRC OUT`: any checkpoint to canonical safetensors, or to a legacy framework file.

Only the arguments are handled here; the conversion is rosetta.convert.stream.convert, imported
when the command runs. OUT is left as it was on an error: everything is written beside it and
renamed at the end.
"""

from __future__ import annotations

import argparse
import sys

EPILOG = """\
SRC is a folder or Hub repo id holding model.safetensors, pytorch_model.bin, tf_model.h5 or
flax_model.msgpack (sharded or not), or safetensors written by transformers from TF or Flax.
OUT receives the weights plus config, generation config, tokenizer and preprocessor files.

examples:
  rosetta convert ./bert-tf ./bert                      tf_model.h5 -> canonical model.safetensors
  rosetta convert bert-base-uncased ./bert-flax --to flax
  rosetta convert ./big ./big-bf16 --dtype bfloat16 --max-shard-size 2GB
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert a checkpoint to canonical safetensors or a legacy framework file",
        description="Convert a checkpoint, streaming tensor by tensor (memory stays under one input file plus one tensor).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("src", metavar="SRC", help="folder or Hub repo id of the checkpoint")
    parser.add_argument("out", metavar="OUT", help="folder to write (refused if it exists, unless --force)")
    parser.add_argument(
        "--to",
        choices=("safetensors", "pt", "tf", "flax"),
        default="safetensors",
        help="output format: canonical safetensors (default), pytorch_model.bin, tf_model.h5, flax_model.msgpack",
    )
    parser.add_argument(
        "--dtype",
        choices=("float32", "float16", "bfloat16"),
        default=None,
        help="cast floating-point tensors (default: keep each tensor's dtype)",
    )
    parser.add_argument(
        "--max-shard-size", default="5GB", help="largest output file before sharding (default: 5GB)"
    )
    parser.add_argument(
        "--gguf-file",
        default=None,
        metavar="NAME",
        help="the .gguf file in SRC to convert, when it holds several",
    )
    parser.add_argument("--force", action="store_true", help="replace OUT if it exists")
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..convert.stream import convert

    result = convert(
        args.src,
        args.out,
        to=args.to,
        dtype=args.dtype,
        max_shard_size=args.max_shard_size,
        force=args.force,
        progress=not args.quiet,
        gguf_file=args.gguf_file,
    )
    if not args.quiet:
        files = ", ".join(result.files) if len(result.files) <= 3 else f"{len(result.files)} shards"
        companions = f" + {', '.join(result.companions)}" if result.companions else ""
        print(
            f"wrote {result.tensors} tensors ({result.bytes / 1e6:.1f} MB) to {result.out}: {files}{companions}"
        )
        for note in result.notes:
            print(f"note: {note}", file=sys.stderr)
    return 0
