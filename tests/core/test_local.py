"""rerankit.local, the layer local-model plugins share: cache, batching, devices, truncation.

The plugins' own tests exercise it with real models (tests/plugins/crossencoder, .../colbert,
and tests/plugins/colbert/test_shared_local_layer.py for the sharing itself); these pin its
contracts without loading any model.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest
from pydantic import Field

import rerankit
from rerankit._config import validate_config
from rerankit.local import (
    LengthSortedBatches,
    LocalModelConfig,
    ModelCache,
    Truncations,
    check_dtype,
    count_truncated,
    model_path,
    resolve_device,
)


@dataclass(frozen=True)
class KeyA:
    name: str


@dataclass(frozen=True)
class KeyB:
    name: str


# -- import cost -------------------------------------------------------------------------------
def test_import_loads_no_torch():
    code = (
        "import sys, rerankit.local as local\n"
        "local.resolve_device('cpu'); local.check_dtype('float16', 'cuda')\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


# -- the model cache ---------------------------------------------------------------------------
def test_same_key_loads_once_across_threads():
    cache = ModelCache()
    calls = []

    def load():
        calls.append(1)
        time.sleep(0.05)  # long enough for every thread to be waiting on the key's lock
        return object()

    start = threading.Barrier(6)
    got = []

    def worker():
        start.wait()
        got.append(cache.get(KeyA("m"), load))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len({id(g) for g in got}) == 1
    assert cache.loads(KeyA) == 1 and cache.keys() == [KeyA("m")]


def test_different_models_load_side_by_side():
    cache = ModelCache()
    b_started = threading.Event()

    def load_a():
        # a second model's load must be able to start while this one is still loading
        assert b_started.wait(timeout=5), "loading one model blocked loading another"
        return "a"

    def load_b():
        b_started.set()
        return "b"

    thread = threading.Thread(target=lambda: cache.get(KeyA("a"), load_a))
    thread.start()
    time.sleep(0.02)
    assert cache.get(KeyA("b"), load_b) == "b"
    thread.join(timeout=5)
    assert sorted(k.name for k in cache.keys()) == ["a", "b"]


def test_failed_load_is_not_cached_and_is_retried():
    cache = ModelCache()

    def broken():
        raise OSError("no such model")

    with pytest.raises(OSError):
        cache.get(KeyA("m"), broken)
    assert cache.keys() == [] and cache.loads() == 0
    assert cache.get(KeyA("m"), lambda: "ok") == "ok"


def test_kinds_are_namespaces_for_keys_loads_and_clear():
    cache = ModelCache()
    cache.get(KeyA("x"), lambda: 1)
    cache.get(KeyB("x"), lambda: 2)  # equal fields, other type: another model
    assert cache.get(KeyA("x"), lambda: 3) == 1
    assert cache.keys(KeyA) == [KeyA("x")] and cache.keys(KeyB) == [KeyB("x")]
    assert cache.loads(KeyA) == 1 and cache.loads() == 2
    cache.clear(KeyA)
    assert cache.keys() == [KeyB("x")]
    assert cache.get(KeyA("x"), lambda: 4) == 4 and cache.loads(KeyA) == 2  # reloaded
    cache.clear()
    assert cache.keys() == []


def test_one_lock_per_model():
    cache = ModelCache()
    assert cache.lock(KeyA("m")) is cache.lock(KeyA("m"))
    assert cache.lock(KeyA("m")) is not cache.lock(KeyA("n"))
    assert cache.lock(KeyA("m")) is not cache.lock(KeyB("m"))


def test_process_wide_cache_is_one_object():
    import rerankit.local

    assert isinstance(rerankit.local.models, ModelCache)
    from rerankit.local import models

    assert models is rerankit.local.models


# -- batching ----------------------------------------------------------------------------------
def test_length_sorted_batches_longest_first_and_restored():
    lengths = [3, 10, 1, 10, 7, 0, 5]
    batches = LengthSortedBatches(lengths, batch_size=3)
    rows = list(batches)
    assert len(batches) == len(rows) == 3
    assert [r.tolist() for r in rows] == [[1, 3, 4], [6, 0, 2], [5]]  # ties keep input order
    computed = np.concatenate([np.asarray(lengths)[r] * 10.0 for r in rows])  # work done in batch order
    np.testing.assert_array_equal(batches.restore(computed), np.asarray(lengths) * 10.0)
    with pytest.raises(ValueError, match="expected 7 values"):
        batches.restore(computed[:-1])
    with pytest.raises(ValueError, match="batch_size"):
        LengthSortedBatches(lengths, 0)
    assert list(LengthSortedBatches([], 4)) == []


# -- devices and precision ---------------------------------------------------------------------
def test_explicit_devices_pass_through_and_auto_resolves(caplog):
    import torch

    assert resolve_device("cpu") == "cpu" and resolve_device("xpu:0") == "xpu:0"
    if torch.cuda.device_count() > 1:
        assert resolve_device("cuda:1") == "cuda:1"
    caplog.set_level(logging.DEBUG, logger="rerankit.local")

    want = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert resolve_device(None) == resolve_device("auto") == want
    assert [r.getMessage() for r in caplog.records if r.name.startswith("rerankit.local")] == [
        f"device 'auto' resolved to '{want}'"
    ] * 2


def test_a_gpu_device_torch_cannot_see_is_a_config_error_saying_what_to_use():
    import torch

    # Where torch sees no CUDA GPU; on a machine with one, in a fresh process that hides it
    # (CUDA_VISIBLE_DEVICES=""), so the test never skips.
    if not torch.cuda.is_available():
        no_gpu = r"device='cuda:1' but this torch .* sees no CUDA GPU; use device='cpu'"
        with pytest.raises(rerankit.ConfigError, match=no_gpu):
            resolve_device("cuda:1")
        if not torch.backends.mps.is_available():
            with pytest.raises(rerankit.ConfigError, match=r"device='mps' .* no Apple GPU"):
                resolve_device("mps")
        return
    code = """if True:
        import re, torch, rerankit
        from rerankit.local import resolve_device
        assert not torch.cuda.is_available()
        try:
            resolve_device("cuda:1")
            raise SystemExit("no error for cuda:1")
        except rerankit.ConfigError as exc:
            no_gpu = r"device='cuda:1' but this torch .* sees no CUDA GPU; use device='cpu'"
            assert re.search(no_gpu, str(exc)), str(exc)
        if not torch.backends.mps.is_available():
            try:
                resolve_device("mps")
                raise SystemExit("no error for mps")
            except rerankit.ConfigError as exc:
                assert re.search(r"device='mps' .* no Apple GPU", str(exc)), str(exc)
        print("refused")
    """
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0 and done.stdout.strip() == "refused", done.stderr


def test_float16_on_cpu_is_refused_with_advice():
    check_dtype("float16", "cuda", "cuda")
    check_dtype("bfloat16", "cpu", "cpu")
    with pytest.raises(rerankit.ConfigError, match=r"not supported on device='cpu'.*bfloat16"):
        check_dtype("float16", "cpu", "cpu")
    with pytest.raises(rerankit.ConfigError, match="auto-detection found none"):
        check_dtype("float16", "cpu", None)


class ToyConfig(LocalModelConfig):
    model_name: str = Field("toy/model", min_length=1)


def test_local_model_config_shared_options():
    config = validate_config("toy", ToyConfig, {})
    assert (config.device, config.batch_size, config.dtype) == (None, 32, "float32")
    assert (config.trust_remote_code, config.cache_dir, config.local_files_only) == (False, None, False)
    assert validate_config("toy", ToyConfig, {"device": "cuda:0", "dtype": "float16"}).device == "cuda:0"
    for options, message in [
        ({"device": "cpu", "dtype": "float16"}, "dtype='float16' is not supported on device='cpu'"),
        ({"device": "gpu"}, "option 'device'"),
        ({"batch_size": 0}, "option 'batch_size'"),
        ({"dtype": "int4"}, "option 'dtype'"),
        ({"model_name": ""}, "option 'model_name'"),
    ]:
        with pytest.raises(rerankit.ConfigError, match="invalid config for reranker 'toy'") as info:
            validate_config("toy", ToyConfig, options)
        assert message in str(info.value)


def test_model_path_resolves_directories_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m").mkdir()
    assert model_path("m") == model_path(str(tmp_path / "m" / ".." / "m")) == str((tmp_path / "m").resolve())
    assert model_path("org/hub-model") == "org/hub-model"


# -- truncation --------------------------------------------------------------------------------
class _Encoding(dict):
    """What a tokenizer call returns, reduced to what count_truncated reads."""

    def __init__(self, lengths, offsets_per_row=None):
        mask = [[1] * n + [0] * (max(lengths) - n) for n in lengths]
        super().__init__(attention_mask=mask, input_ids=mask)
        rows = offsets_per_row or []
        self.encodings = [SimpleNamespace(sequence_ids=seq, offsets=off) for seq, off in rows]


def test_count_truncated_reads_offsets_of_rows_at_the_cap():
    texts = ["ab cd", "ab cd ef", "ab cd  \n", "x"]
    # 4 tokens max: [CLS] ab cd [SEP]; row 1 lost "ef", row 2 only lost whitespace, row 3 is short
    rows = [
        ([None, 0, 0, None], [(0, 0), (0, 2), (3, 5), (0, 0)]),
        ([None, 0, 0, None], [(0, 0), (0, 2), (3, 5), (0, 0)]),
        ([None, 0, 0, None], [(0, 0), (0, 2), (3, 5), (0, 0)]),
        ([None, 0, None], [(0, 0), (0, 1), (0, 0)]),
    ]
    enc = _Encoding([4, 4, 4, 3], rows)
    assert count_truncated(enc, 4, texts) == 1
    assert count_truncated(enc, 5, texts) == 0  # nothing reaches a higher cap


def test_count_truncated_without_offsets_asks_the_tokenizer_again():
    asked = []

    def tokenizer(first, second, truncation, max_length):
        asked.append((first, second, max_length))
        return {"input_ids": [list(range(min(len(t.split()) + 2, max_length))) for t in first]}

    enc = _Encoding([4, 4, 2])
    texts = ["ab cd", "ab cd ef", "x"]
    assert count_truncated(enc, 4, texts, tokenizer=tokenizer) == 1
    assert asked == [(["ab cd", "ab cd ef"], None, 5)]  # only the rows at the cap, one token more
    with pytest.raises(ValueError, match="tokenizer="):
        count_truncated(enc, 4, texts)


def test_truncations_total_and_one_warning_per_call(caplog):
    log = logging.getLogger("rerankit.toy")
    tally = Truncations(log, "toy")
    caplog.set_level(logging.WARNING, logger="rerankit")
    tally.report(0, 10, what="texts", limit="max_length", length=8, model="m", fix="split them")
    assert tally.total == 0 and not caplog.records
    tally.report(3, 10, what="texts", limit="max_length", length=8, model="m", fix="split them")
    tally.report(2, 4, what="queries", limit="max_length", length=8, model="m", fix="split them", passages=False)
    assert tally.total == 5
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("rerankit.toy", logging.WARNING,
         "toy: 3 of 10 texts were longer than max_length=8 tokens and were truncated (model m); split them; "
         "or set passages=True to score long texts in passages that fit, not cut"),
        ("rerankit.toy", logging.WARNING,  # passages do not split queries: no pointer to them
         "toy: 2 of 4 queries were longer than max_length=8 tokens and were truncated (model m); split them"),
    ]
