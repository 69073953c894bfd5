"""A small local language model that can only write valid JSON: SmolLM2-135M-Instruct under an xgrammar grammar.

Decoding is greedy, with three things that make a 135M model usable as a planner on two CPU cores:

* **Grammar.** Every token is drawn from the tokens that the JSON schema's grammar allows next (xgrammar's
  token bitmask), so the output always parses and always validates: tool names and audio ids are enums.
* **Jump-forward.** Where the grammar allows exactly one continuation (``{"calls": [{"tool": "``, closing
  brackets), that text is appended in one forward pass instead of one pass per token.
* **Prefix cache.** The system prompt (tools and examples) is encoded once; each request starts from a copy of
  its key-value cache.

The same samples give the same output: no sampling, and the same token-by-token arithmetic on every call.
"""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path

import torch

from almkit.errors import ConfigError


class LocalLM:
    """``json(system, user, schema)`` -> an object valid under ``schema``. ``path``: a local transformers
    causal-LM folder (default: the SmolLM2-135M-Instruct asset)."""

    def __init__(self, path: str | Path | None = None, threads: int | None = None):
        import xgrammar as xgr
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if path is None:
            from almkit.assets import require

            path = require("smollm2")
        if not Path(path).is_dir():
            raise ConfigError("no such language model folder", source=path, hint="pass a transformers model folder")
        if threads:
            torch.set_num_threads(threads)
        self.name = Path(path).name if path else "smollm2"
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32).eval()
        self.vocab_size = self.model.config.vocab_size
        info = xgr.TokenizerInfo.from_huggingface(self.tokenizer, vocab_size=self.vocab_size)
        self._xgr = xgr
        self._compiler = xgr.GrammarCompiler(info)
        self._grammars: dict[str, object] = {}
        self._prefixes: dict[str, tuple[int, object]] = {}
        self._lock = threading.Lock()  # one decode at a time: the model and caches are shared

    # --- prompts and caches --------------------------------------------------------------------------------
    def _split_prompt(self, system: str, user: str) -> tuple[str, str]:
        """The chat-template text of the system turn (cacheable) and of the rest, up to the reply's start."""
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        full = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        head = self.tokenizer.apply_chat_template(messages[:1], tokenize=False)
        if not full.startswith(head):
            return "", full
        return head, full[len(head) :]

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _prefix(self, text: str):
        """A fresh copy of the key-value cache after ``text`` (computed once per distinct text)."""
        if not text:
            return None
        if text not in self._prefixes:
            if len(self._prefixes) > 8:
                self._prefixes.clear()
            out = self.model(torch.tensor([self._ids(text)]), use_cache=True)
            self._prefixes[text] = out.cache
        return copy.deepcopy(self._prefixes[text])

    def _step(self, ids: list[int], cache):
        """Feed ``ids`` after ``cache``; the next-token logits ``[vocab]`` and the grown cache."""
        out = self.model(torch.tensor([ids]), cache=cache, use_cache=True)
        return out.logits[0, -1].float(), out.cache

    # --- decoding ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def json(self, system: str, user: str, schema: dict, max_tokens: int = 160) -> tuple[dict, int]:
        """``(object, tokens the model chose)``: greedy decoding under ``schema``'s grammar, in the layout
        ``json.dumps`` writes (the layout of the examples the model is shown)."""
        xgr = self._xgr
        key = json.dumps(schema)  # property order is the order the JSON is written in: never sort it
        with self._lock:
            if key not in self._grammars:
                if len(self._grammars) > 64:
                    self._grammars.clear()
                self._grammars[key] = self._compiler.compile_json_schema(
                    key, any_whitespace=False, separators=(", ", ": ")
                )
            matcher = xgr.GrammarMatcher(self._grammars[key], terminate_without_stop_token=True)
            bitmask = xgr.allocate_token_bitmask(1, self.vocab_size)
            head, rest = self._split_prompt(system, user)
            cache, pending, out_ids, chosen = self._prefix(head), self._ids(rest), [], 0
            while not matcher.is_terminated():
                forced = matcher.find_jump_forward_string()
                if forced:  # the only text the grammar allows here: no decision for the model to make
                    if not matcher.accept_string(forced):
                        raise ConfigError(f"grammar refused its own jump-forward text {forced!r}")
                    forced_ids = self._ids(forced)
                    pending += forced_ids
                    out_ids += forced_ids
                    continue
                if chosen >= max_tokens:
                    raise ConfigError(f"no complete JSON within {max_tokens} tokens", hint="raise max_tokens")
                logits, cache = self._step(pending, cache)
                matcher.fill_next_token_bitmask(bitmask)
                logits = logits.unsqueeze(0)
                xgr.apply_token_bitmask_inplace(logits, bitmask.to(logits.device), vocab_size=self.vocab_size)
                token = int(logits[0].argmax())
                if not matcher.accept_token(token):
                    raise ConfigError(f"grammar refused token {token} that its own mask allowed")
                pending, chosen = [token], chosen + 1
                out_ids.append(token)
            text = self.tokenizer.decode(out_ids)
        return json.loads(text), chosen
