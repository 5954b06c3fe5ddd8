"""``rerankit export``: write a local model as a folder that scores without torch.

    rerankit export embedding sentence-transformers/all-MiniLM-L6-v2 --backend onnx --out minilm-onnx
    rerankit export colbert colbert-ir/colbertv2.0 --backend openvino --out colbert-ov

Run where torch and the plugin are installed. The folder holds the model's files (tokenizer,
configs; the torch weights only with ``--weights``), the ONNX or OpenVINO graph in
``onnx/model.onnx`` or ``openvino/openvino_model.xml``, and ``rerankit_export.json``. Anywhere
with the runtime and ``tokenizers`` (``pip install 'rerankit[cpu-onnx]'``, the plugin with
``--no-deps``), ``get_reranker(NAME, model_name=FOLDER, backend=...)`` scores it. The reranker's
scorer does the work (its ``export`` method), so any local-model plugin may offer it.
"""

from __future__ import annotations

import argparse
from typing import Any

from ._errors import ConfigError


def add_command(commands: Any) -> None:
    """Add ``export`` to the ``rerankit`` command's subparsers."""
    ex = commands.add_parser(
        "export", help="write a local model as an ONNX/OpenVINO folder that scores without torch",
        description=__doc__.splitlines()[0],
    )
    ex.add_argument("reranker", help="the reranker whose model to export: crossencoder, embedding, colbert")
    ex.add_argument("model", help="its model_name: a hub id or a local folder")
    ex.add_argument("--out", required=True, help="the folder to write (must not exist or be empty)")
    ex.add_argument("--backend", choices=("onnx", "openvino"), default="onnx", help="the runtime (default: onnx)")
    ex.add_argument("--quantize", choices=("int8",), help="ONNX Runtime dynamic int8 (backend onnx)")
    ex.add_argument("--weights", action="store_true", help="copy the torch weights too (the folder then also "
                    "loads with backend='torch')")
    ex.add_argument("--overwrite", action="store_true", help="replace what --out holds")
    ex.set_defaults(func=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    from . import get_reranker

    options: dict[str, Any] = {"model_name": args.model, "backend": args.backend}
    if args.quantize:
        options["quantize"] = args.quantize
    reranker = get_reranker(args.reranker, **options)
    export = getattr(getattr(reranker, "scorer", None), "export", None)
    if export is None:
        raise ConfigError(
            f"reranker {args.reranker!r} cannot export its model; the crossencoder, embedding and colbert "
            "rerankers can"
        )
    folder = export(args.out, weights=args.weights, overwrite=args.overwrite)
    print(f"wrote {folder}; score it with get_reranker({args.reranker!r}, model_name={str(folder)!r}, "
          f"backend={args.backend!r})")
    return 0
