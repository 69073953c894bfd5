"""Automated audio captioning metrics, numerically identical to the COCO caption tools (pycocoevalcap).

* ``ptb_tokenize``: Stanford PTBTokenizer (the ``stanford-corenlp-3.4.1.jar`` the COCO tools ship), lower-cased,
  punctuation tokens removed, exactly as ``pycocoevalcap.tokenizer.ptbtokenizer`` does; one Java call per corpus.
* ``bleu`` (BLEU-1..4, "closest" reference length), ``rouge_l`` (beta 1.2) and ``cider_d`` (CIDEr-D: sigma 6,
  clipped tf-idf, x10, document frequencies from the corpus' references) are re-implemented with vectorised
  n-gram counting and sparse matrices; they equal pycocoevalcap to 1e-6 (tests/test_metrics_captioning.py)
  and run several times faster (benchmarks/bench_caption_metrics.py).
* ``meteor``: the official ``meteor-1.5.jar`` (``-l en -norm``), driven like pycocoevalcap drives it.
* ``spice``: the official ``spice-1.0.jar``; it needs the Stanford CoreNLP 3.6.0 jars, which cannot be
  downloaded here. Without them SPICE and SPIDEr are reported as *unavailable*, with the reason, never guessed.
* ``sbert_similarity``: mean cosine similarity between MiniLM (all-MiniLM-L6-v2) embeddings of the candidate
  and of each reference. It is a sentence-embedding similarity; it is *not* FENSE (no fluency-error detector).

Inputs are ``candidates: {id: caption}`` and ``references: {id: [captions]}`` with the same ids.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from almkit.errors import ConfigError
from almkit.metrics.functional.result import MetricResult

PUNCTUATION = {"''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...", ";"}
METRICS = ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "meteor", "rouge_l", "cider_d", "spice", "spider", "sbert_sim")
TINY, SMALL = 1e-15, 1e-9  # pycocoevalcap's BLEU smoothing constants


def _jar(*parts: str) -> Path:
    return Path(str(resources.files("pycocoevalcap").joinpath("/".join(parts))))


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise ConfigError("Java is needed for PTB tokenisation, METEOR and SPICE", hint="apt-get install default-jre")
    return java


def _check(candidates: dict, references: dict) -> list:
    if set(candidates) != set(references):
        only_c, only_r = sorted(set(candidates) - set(references)), sorted(set(references) - set(candidates))
        raise ConfigError(
            f"candidate and reference ids differ: only in candidates {only_c[:5]}, only in references {only_r[:5]}"
        )
    for k, refs in references.items():
        if not refs:
            raise ConfigError(f"clip {k!r} has no reference caption")
    return sorted(candidates, key=str)


# --- tokenisation -----------------------------------------------------------------------------------------
def ptb_tokenize(texts: Sequence[str]) -> list[str]:
    """Tokenise like pycocoevalcap's PTBTokenizer (same jar, same flags, same punctuation removal)."""
    if not texts:
        return []
    jar = _jar("tokenizer", "stanford-corenlp-3.4.1.jar")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "sentences.txt"
        src.write_bytes("\n".join(t.replace("\n", " ") for t in texts).encode())
        out = subprocess.run(
            [
                _java(),
                "-cp",
                str(jar),
                "edu.stanford.nlp.process.PTBTokenizer",
                "-preserveLines",
                "-lowerCase",
                str(src),
            ],
            capture_output=True,
            check=True,
        ).stdout.decode()
    lines = out.split("\n")
    return [" ".join(w for w in lines[i].rstrip().split(" ") if w not in PUNCTUATION) for i in range(len(texts))]


# --- n-gram counting ----------------------------------------------------------------------------------------
class _NGrams:
    """Counts of every n-gram (n = 1..4) of whitespace-tokenised sentences as integer keys; ``columns`` turns
    them into sparse matrices ``[sentences, distinct n-grams]``. Sentences compared with each other must share
    ``vocab`` and ``base``."""

    def __init__(self, tokens: list[list[int]], base: int, n: int = 4):
        self.lengths = np.array([len(t) for t in tokens], dtype=np.int64)
        flat = np.fromiter((i for t in tokens for i in t), dtype=np.int64, count=int(self.lengths.sum()))
        owner = np.repeat(np.arange(len(tokens)), self.lengths)
        self.matrices = []
        for k in range(1, n + 1):
            end = np.arange(len(flat)) + k - 1
            valid = end < len(flat)
            valid[valid] &= owner[end[valid]] == owner[valid]
            starts = np.flatnonzero(valid)
            keys = np.zeros(len(starts), dtype=np.int64)
            for j in range(k):
                keys = keys * base + flat[starts + j]
            self.matrices.append((keys, owner[starts]))
        self.n_sentences = len(tokens)

    def columns(self, other: _NGrams | None = None):
        """Sparse count matrices per n, in one column space for ``self`` (and ``other`` if given)."""
        out = []
        for k in range(len(self.matrices)):
            keys_a, rows_a = self.matrices[k]
            keys_b, rows_b = other.matrices[k] if other is not None else (np.zeros(0, np.int64), np.zeros(0, int))
            uniq, inv = np.unique(np.concatenate([keys_a, keys_b]), return_inverse=True)
            ca, cb = inv[: len(keys_a)], inv[len(keys_a) :]
            a = sp.csr_matrix((np.ones(len(ca)), (rows_a, ca)), shape=(self.n_sentences, len(uniq)))
            b = (
                sp.csr_matrix((np.ones(len(cb)), (rows_b, cb)), shape=(other.n_sentences, len(uniq)))
                if other is not None
                else None
            )
            a.sum_duplicates()
            if b is not None:
                b.sum_duplicates()
            out.append((a, b))
        return out


def _group_max(matrix: sp.csr_matrix, groups: np.ndarray, n_groups: int) -> sp.csr_matrix:
    """Row-wise maximum of the rows of ``matrix`` that share a group id: ``[n_groups, columns]``."""
    coo = matrix.tocoo()
    g = groups[coo.row]
    order = np.lexsort((coo.col, g))
    g, col, val = g[order], coo.col[order], coo.data[order]
    if len(g) == 0:
        return sp.csr_matrix((n_groups, matrix.shape[1]))
    new = np.ones(len(g), dtype=bool)
    new[1:] = (g[1:] != g[:-1]) | (col[1:] != col[:-1])
    starts = np.flatnonzero(new)
    return sp.csr_matrix(
        (np.maximum.reduceat(val, starts), (g[starts], col[starts])), shape=(n_groups, matrix.shape[1])
    )


class _Corpus:
    """Tokenised candidates and references with their n-gram matrices, shared by BLEU and CIDEr-D."""

    def __init__(self, candidates: list[str], references: list[list[str]]):
        self.cands = candidates
        self.refs = references
        self.ref_flat = [r for refs in references for r in refs]
        self.ref_owner = np.repeat(np.arange(len(references)), [len(r) for r in references])
        vocab: dict[str, int] = {}
        c_tok = [[vocab.setdefault(w, len(vocab)) for w in s.split()] for s in candidates]
        r_tok = [[vocab.setdefault(w, len(vocab)) for w in s.split()] for s in self.ref_flat]
        base = max(1, len(vocab))
        if base**4 >= 2**63:
            raise ConfigError(f"vocabulary of {base} words is too large for 4-gram keys")
        self.c_ngrams, self.r_ngrams = _NGrams(c_tok, base), _NGrams(r_tok, base)
        self.per_n = self.c_ngrams.columns(self.r_ngrams)


# --- BLEU ---------------------------------------------------------------------------------------------------
def _bleu(corpus: _Corpus, n: int = 4) -> MetricResult:
    n_items = len(corpus.cands)
    testlen = corpus.c_ngrams.lengths.astype(np.float64)
    reflens = corpus.r_ngrams.lengths
    # closest reference length, ties to the shorter one: min over (|l - testlen|, l)
    diff = np.abs(reflens - testlen[corpus.ref_owner])
    order = np.lexsort((reflens, diff, corpus.ref_owner))
    first = np.ones(len(order), dtype=bool)
    first[1:] = corpus.ref_owner[order][1:] != corpus.ref_owner[order][:-1]
    reflen = np.zeros(n_items)
    reflen[corpus.ref_owner[order][first]] = reflens[order][first]
    correct = np.zeros((n, n_items))
    guess = np.stack([np.maximum(0, testlen - k) for k in range(n)])
    for k, (cand, ref) in enumerate(corpus.per_n[:n]):
        clip = _group_max(ref, corpus.ref_owner, n_items)
        correct[k] = np.asarray(cand.minimum(clip).sum(axis=1)).ravel()
    ratio_i = (testlen + TINY) / (reflen + SMALL)
    penalty_i = np.where(ratio_i < 1, np.exp(1 - 1 / np.where(ratio_i < 1, ratio_i, 1)), 1.0)
    ratio = (testlen.sum() + TINY) / (reflen.sum() + SMALL)
    penalty = np.exp(1 - 1 / ratio) if ratio < 1 else 1.0
    corpus_scores, per_item = {}, {}
    prod_i, prod = np.ones(n_items), 1.0
    for k in range(n):
        prod_i = prod_i * (correct[k] + TINY) / (guess[k] + SMALL)
        prod *= (correct[k].sum() + TINY) / (guess[k].sum() + SMALL)
        per_item[f"bleu_{k + 1}"] = prod_i ** (1 / (k + 1)) * penalty_i
        corpus_scores[f"bleu_{k + 1}"] = float(prod ** (1 / (k + 1)) * penalty)
    return MetricResult(corpus_scores, per_item, pooled=set(corpus_scores))


def bleu(candidates: dict, references: dict) -> MetricResult:
    """BLEU-1..4 on already tokenised captions (corpus scores, per-item sentence BLEU)."""
    ids = _check(candidates, references)
    return _bleu(_Corpus([candidates[i] for i in ids], [list(references[i]) for i in ids]))


# --- CIDEr-D ------------------------------------------------------------------------------------------------
def _cider_d(corpus: _Corpus, sigma: float = 6.0) -> MetricResult:
    n_items = len(corpus.cands)
    ref_len = np.log(float(n_items))
    scores = np.zeros(n_items)
    # "length" in pycocoevalcap's CIDEr-D is the number of bigrams (its n == 1 is the bigram index)
    c_len = np.maximum(corpus.c_ngrams.lengths - 1, 0).astype(np.float64)
    r_len = np.maximum(corpus.r_ngrams.lengths - 1, 0).astype(np.float64)
    penalty = np.exp(-((c_len[corpus.ref_owner] - r_len) ** 2) / (2 * sigma**2))
    n_refs = np.bincount(corpus.ref_owner, minlength=n_items).astype(np.float64)
    for cand, ref in corpus.per_n:
        present = _group_max(ref, corpus.ref_owner, n_items)
        df = np.asarray((present > 0).sum(axis=0)).ravel()
        idf = ref_len - np.log(np.maximum(1.0, df))
        vc = cand @ sp.diags(idf)
        vr = ref @ sp.diags(idf)
        norm_c = np.sqrt(np.asarray(vc.multiply(vc).sum(axis=1)).ravel())
        norm_r = np.sqrt(np.asarray(vr.multiply(vr).sum(axis=1)).ravel())
        vc_pairs = vc[corpus.ref_owner]
        val = np.asarray(vc_pairs.minimum(vr).multiply(vr).sum(axis=1)).ravel()
        denom = norm_c[corpus.ref_owner] * norm_r
        val = np.where(denom != 0, val / np.where(denom != 0, denom, 1), val) * penalty
        scores += np.bincount(corpus.ref_owner, weights=val, minlength=n_items)
    per_item = scores / len(corpus.per_n) / n_refs * 10.0
    return MetricResult({"cider_d": float(per_item.mean())}, {"cider_d": per_item})


def cider_d(candidates: dict, references: dict) -> MetricResult:
    """CIDEr-D on already tokenised captions."""
    ids = _check(candidates, references)
    return _cider_d(_Corpus([candidates[i] for i in ids], [list(references[i]) for i in ids]))


# --- ROUGE-L ------------------------------------------------------------------------------------------------
def _lcs(a: list, b: list) -> int:
    """Length of the longest common subsequence (bit-parallel, Allison-Dix / Hyyro)."""
    masks: dict = {}
    for i, tok in enumerate(a):
        masks[tok] = masks.get(tok, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for tok in b:
        u = v & masks.get(tok, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - bin(v).count("1")


def rouge_l(candidates: dict, references: dict, beta: float = 1.2) -> MetricResult:
    """ROUGE-L (F with beta 1.2, best precision and best recall over the references) on tokenised captions."""
    ids = _check(candidates, references)
    per = np.zeros(len(ids))
    for n, i in enumerate(ids):
        cand = candidates[i].split(" ")
        prec, rec = 0.0, 0.0
        for ref in references[i]:
            tokens = ref.split(" ")
            lcs = _lcs(cand, tokens)
            prec, rec = max(prec, lcs / len(cand)), max(rec, lcs / len(tokens))
        if prec and rec:
            per[n] = (1 + beta**2) * prec * rec / (rec + beta**2 * prec)
    return MetricResult({"rouge_l": float(per.mean())}, {"rouge_l": per})


# --- METEOR and SPICE (official jars) -----------------------------------------------------------------------
def meteor(candidates: dict, references: dict) -> MetricResult:
    """METEOR 1.5 through the official jar, driven exactly as pycocoevalcap drives it."""
    ids = _check(candidates, references)
    jar = _jar("meteor", "meteor-1.5.jar")
    proc = subprocess.Popen(
        [_java(), "-jar", "-Xmx2G", str(jar), "-", "-", "-stdio", "-l", "en", "-norm"],
        cwd=jar.parent,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    lines = []
    for i in ids:
        hyp = candidates[i].replace("|||", "").replace("  ", " ")
        lines.append(" ||| ".join(("SCORE", " ||| ".join(references[i]), hyp)) + "\n")
    writer = threading.Thread(target=lambda: (proc.stdin.write("".join(lines).encode()), proc.stdin.flush()))
    writer.start()
    stats = [proc.stdout.readline().decode().strip() for _ in ids]
    writer.join()
    proc.stdin.write(("EVAL ||| " + " ||| ".join(stats) + "\n").encode())
    proc.stdin.flush()
    per = np.array([float(proc.stdout.readline().strip()) for _ in ids])
    corpus = float(proc.stdout.readline().strip())
    proc.stdin.close()
    proc.wait()
    return MetricResult({"meteor": corpus}, {"meteor": per}, pooled={"meteor"})


def spice_unavailable_reason() -> str | None:
    """Why SPICE cannot run here (None if it can)."""
    lib = _jar("spice", "lib")
    if not any(lib.glob("stanford-corenlp-3.6.0*.jar")):
        return (
            f"SPICE needs the Stanford CoreNLP 3.6.0 jars in {lib} (pycocoevalcap's get_stanford_models "
            "downloads them from nlp.stanford.edu, which this machine cannot reach)"
        )
    return None


def spice(candidates: dict, references: dict) -> MetricResult:
    """SPICE through the official jar (needs the CoreNLP models; see :func:`spice_unavailable_reason`)."""
    import json

    reason = spice_unavailable_reason()
    if reason:
        return MetricResult({}, {}, {"spice": reason, "spider": reason})
    ids = _check(candidates, references)
    jar = _jar("spice", "spice-1.0.jar")
    with tempfile.TemporaryDirectory() as tmp:
        data = [{"image_id": str(i), "test": candidates[i], "refs": list(references[i])} for i in ids]
        (Path(tmp) / "in.json").write_text(json.dumps(data))
        subprocess.run(
            [
                _java(),
                "-jar",
                "-Xmx8G",
                str(jar),
                str(Path(tmp) / "in.json"),
                "-out",
                str(Path(tmp) / "out.json"),
                "-subset",
                "-silent",
            ],
            check=True,
            capture_output=True,
            cwd=jar.parent,
            env={**os.environ},
        )
        results = {r["image_id"]: r["scores"]["All"]["f"] for r in json.loads((Path(tmp) / "out.json").read_text())}
    per = np.array([float(results[str(i)]) for i in ids])
    return MetricResult({"spice": float(per.mean())}, {"spice": per})


def sbert_similarity(candidates: dict, references: dict) -> MetricResult:
    """Mean cosine similarity of MiniLM sentence embeddings, candidate vs each reference (not FENSE)."""
    from almkit.encoders import build_text_encoder

    ids = _check(candidates, references)
    encoder = build_text_encoder("minilm")
    refs = [r for i in ids for r in references[i]]
    owner = np.repeat(np.arange(len(ids)), [len(references[i]) for i in ids])
    cand_emb = np.concatenate(
        [encoder.encode([candidates[i] for i in ids[k : k + 256]]).numpy() for k in range(0, len(ids), 256)]
    )
    ref_emb = np.concatenate([encoder.encode(refs[k : k + 256]).numpy() for k in range(0, len(refs), 256)])
    cos = (cand_emb[owner] * ref_emb).sum(axis=1)
    per = np.bincount(owner, weights=cos) / np.bincount(owner)
    return MetricResult({"sbert_sim": float(per.mean())}, {"sbert_sim": per})


# --- everything at once -------------------------------------------------------------------------------------
def captioning_metrics(
    candidates: dict, references: dict, metrics: Sequence[str] = METRICS, tokenize: bool = True
) -> MetricResult:
    """The requested metrics on raw captions (PTB-tokenised once, as the COCO tools do)."""
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown:
        raise ConfigError(f"unknown captioning metrics {unknown}", hint=f"known: {', '.join(METRICS)}")
    ids = _check(candidates, references)
    if tokenize:
        counts = [len(references[i]) for i in ids]
        tokens = ptb_tokenize([candidates[i] for i in ids] + [r for i in ids for r in references[i]])
        cands = dict(zip(ids, tokens[: len(ids)], strict=True))
        rest, refs = iter(tokens[len(ids) :]), {}
        for i, c in zip(ids, counts, strict=True):
            refs[i] = [next(rest) for _ in range(c)]
    else:
        cands, refs = candidates, references
    out = MetricResult({}, {})

    def add(result: MetricResult):
        out.corpus.update({k: v for k, v in result.corpus.items() if k in metrics})
        out.per_item.update({k: v for k, v in result.per_item.items() if k in metrics})
        out.unavailable.update({k: v for k, v in result.unavailable.items() if k in metrics})
        out.pooled.update(result.pooled & set(metrics))

    corpus = _Corpus([cands[i] for i in ids], [list(refs[i]) for i in ids])
    if any(m.startswith("bleu") for m in metrics):
        add(_bleu(corpus))
    if {"cider_d", "spider"} & set(metrics):
        cider = _cider_d(corpus)
        add(cider)
    if "rouge_l" in metrics:
        add(rouge_l(cands, refs))
    if "meteor" in metrics:
        add(meteor(cands, refs))
    if {"spice", "spider"} & set(metrics):
        sp_result = spice(cands, refs)
        add(sp_result)
        if "spice" in sp_result.corpus and "spider" in metrics:
            per = (cider.per_item["cider_d"] + sp_result.per_item["spice"]) / 2
            out.corpus["spider"], out.per_item["spider"] = float(per.mean()), per
    if "sbert_sim" in metrics:
        add(sbert_similarity(candidates, references))
    return out
