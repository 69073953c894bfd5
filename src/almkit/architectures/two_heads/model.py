"""The Two-Heads model: frozen audio encoder frames -> projector -> soft tokens inside a causal LM's chat
template (Pengi / LTU / SALMONN style). Only the projector (and optional LoRA adapters) train; the LM's own
weights come from the asset cache or a local folder and are never copied into a checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

from almkit.architectures.two_heads.config import TwoHeadsConfig
from almkit.architectures.two_heads.projectors import build_projector
from almkit.architectures.weights import load_trainable_weights, trainable_state_dict
from almkit.data.scenes.language import asked_label
from almkit.errors import CheckpointError, ConfigError
from almkit.objectives.generative import IGNORE, answer_loss, answer_positions

AUDIO_SLOT = "<AUDIO_SLOT>"
CAPTION_INSTRUCTION = "Describe the audio."
CAPTION_BANK = "caption_bank.safetensors"  # with caption_retrieval: the training captions and their vectors
Turns = tuple[tuple[str, str], ...]  # earlier (question, answer) turns of a conversation about the same audio


def match_towers(config: TwoHeadsConfig):
    """The frozen Two-Towers model whose window-question cosine the prompt carries (``config.match``), refused
    when it reads another audio encoder or is not the checkpoint the model was trained with."""
    from almkit.architectures.on_towers import check_towers
    from almkit.architectures.two_towers.factory import load_model

    towers = load_model(config.match, device="cpu").eval().requires_grad_(False)
    if towers.config.audio_encoder != config.audio_encoder:
        raise ConfigError(
            f"match={config.match!r} reads {towers.config.audio_encoder!r} audio, this model {config.audio_encoder!r}",
            hint="name a Two-Towers model over the same audio encoder",
        )
    check_towers(config.match, config.match_sha256, config.match, "Two-Heads model", "recipes/two_heads.py --match")
    return towers


@torch.no_grad()
def window_embedding(towers, frames: torch.Tensor) -> torch.Tensor:
    """``[embed_dim]``: a window's frames ``[n, D]``, mean-pooled and projected into ``towers``' joint space."""
    return towers.project_audio(frames.float().mean(0, keepdim=True))[0].cpu()


def lm_path(config: TwoHeadsConfig) -> Path:
    if config.lm == "smollm2":
        from almkit.assets import require

        return require("smollm2")
    return Path(config.lm)


class TwoHeads(nn.Module):
    def __init__(self, config: TwoHeadsConfig):
        super().__init__()
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.config = config.validate()
        path = lm_path(config)
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        lm = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
        lm.requires_grad_(False)
        if config.lora_r:
            from peft import LoraConfig, get_peft_model

            lm = get_peft_model(
                lm,
                LoraConfig(
                    r=config.lora_r,
                    lora_alpha=config.lora_alpha,
                    lora_dropout=0.0,
                    target_modules=list(config.lora_targets),
                    task_type="CAUSAL_LM",
                ),
            )
        self.lm = lm
        self.lm_dim = lm.get_input_embeddings().embedding_dim
        table = lm.get_input_embeddings().weight.detach()
        # the encoder's class names (lower case), for the score prior and the prompt's tags; one encoder built
        needs_names = config.score_prior or config.tags
        self.class_names = [n.lower() for n in config.build_encoder().class_names] if needs_names else []
        self.projector = build_projector(
            config.projector,
            config.audio_dim,
            self.lm_dim,
            config.hidden_dim,
            config.n_queries,
            norm=float(table.norm(dim=-1).mean()),
            prior=self._class_name_embeddings(table) if config.score_prior else None,
        )
        if config.match:
            towers = match_towers(config)
            object.__setattr__(self, "towers", towers)  # frozen and shared: not a submodule, not in the weights
            self._text_embeddings: dict[str, torch.Tensor] = {}
        self.caption_bank: list[str] = []
        self._bank_vectors: torch.Tensor | None = None
        self.eos_id = self.tokenizer.eos_token_id
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.eos_id
        self._prompts: dict[str, tuple[list[int], list[int]]] = {}

    def _class_name_embeddings(self, table: torch.Tensor) -> torch.Tensor:
        """``[n_classes, lm_dim]``: mean LM input embedding of each of the encoder's class names."""
        ids = self.tokenizer([f" {n}" for n in self.class_names], add_special_tokens=False)["input_ids"]
        return torch.stack([table[i].mean(0) for i in ids]).clone()

    # --- sequences ----------------------------------------------------------------------------------------
    def tag_text(self, frames: torch.Tensor) -> str | None:
        """The window's top ``config.tags`` AudioSet tags with their highest frame score ("dog 0.91, animal
        0.84"; tags under 0.05 are left out, the first is always kept), or None for a model without tags."""
        if not self.config.tags:
            return None
        scores = frames[:, -len(self.class_names) :].float().amax(0)
        values, indices = scores.topk(self.config.tags)
        top = zip(indices.tolist(), values.tolist(), strict=True)
        return ", ".join(f"{self.class_names[i]} {s:.2f}" for k, (i, s) in enumerate(top) if k == 0 or s >= 0.05)

    def match(self, frames: torch.Tensor, instruction: str) -> float | None:
        """The cosine between the window and a text (the instruction) in the ``config.match`` Two-Towers model's
        joint space, or None for a model without it."""
        if not self.config.match:
            return None
        return float(window_embedding(self.towers, frames) @ self._text(instruction))

    def _text(self, text: str) -> torch.Tensor:
        """A text's unit vector in the ``config.match`` Two-Towers model's joint space (cached)."""
        if text not in self._text_embeddings:
            if len(self._text_embeddings) > 10_000:
                self._text_embeddings.clear()
            self._text_embeddings[text] = torch.from_numpy(self.towers.embed_text([text])[0])
        return self._text_embeddings[text]

    def prompt_ids(
        self,
        instruction: str,
        history: Turns = (),
        speech: str | None = None,
        tags: str | None = None,
        match: float | None = None,
    ) -> tuple[list[int], list[int]]:
        """Token ids before and after the audio in the chat template: the audio opens the first user turn,
        followed by what a tagger heard in it (``tags``, see ``tag_text``) and the transcript of its speech when
        the model has a transcriber (``speech``; "" for none heard); ``history`` holds earlier (question,
        answer) turns; the last question follows the window's ``match`` with it ("Match: 0.31", see
        ``match``), and the text ends where the assistant's reply starts."""
        matched = "" if match is None else f"Match: {match:.2f}\n"
        key = (instruction, history, speech, tags, matched)
        if key not in self._prompts:
            if len(self._prompts) > 50_000:  # every window has its own tags and transcript
                self._prompts.clear()
            heard = "" if speech is None else f"Speech: {speech or '(none)'}\n"
            tagged = "" if tags is None else f"Tags: {tags}\n"
            messages = [{"role": "system", "content": self.config.system}]
            turns = (*history, (instruction, None))
            for i, (q, a) in enumerate(turns):
                q = f"{matched}{q}" if i == len(turns) - 1 else q
                messages.append({"role": "user", "content": f"{AUDIO_SLOT}\n{tagged}{heard}{q}" if i == 0 else q})
                if a is not None:
                    messages.append({"role": "assistant", "content": a})
            text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            pre, post = text.split(AUDIO_SLOT)
            enc = self.tokenizer([pre, post], add_special_tokens=False)["input_ids"]
            self._prompts[key] = (enc[0], enc[1])
        return self._prompts[key]

    def answer_ids(self, answer: str) -> list[int]:
        return self.tokenizer(answer, add_special_tokens=False)["input_ids"] + [self.eos_id]

    def sequence(
        self,
        frames: torch.Tensor,
        instruction: str,
        answer: str | None = None,
        speech: str | None = None,
        match: float | None = None,
        history: Turns = (),
    ):
        """``(embeddings [L, D], labels [L])``: labels are the answer's tokens (and end of turn), -100 elsewhere
        (system prompt, audio, tags, transcript, match, question, earlier turns). ``match`` is computed when the
        model reads one and it is not given (training passes cross-fitted ones)."""
        if match is None and self.config.match_line:
            match = self.match(frames, instruction)
        pre, post = self.prompt_ids(instruction, history, speech, self.tag_text(frames), match)
        ans = self.answer_ids(answer) if answer is not None else []
        embed = self.lm.get_input_embeddings()
        device = embed.weight.device
        audio = self.projector(frames.to(device, torch.float32))
        ids = torch.tensor(pre + post + ans, dtype=torch.long, device=device)
        embeds = torch.cat([embed(ids[: len(pre)]), audio, embed(ids[len(pre) :])])
        labels = torch.tensor([IGNORE] * (len(pre) + len(audio) + len(post)) + ans, dtype=torch.long, device=device)
        return embeds, labels

    def collate(self, seqs: list[tuple[torch.Tensor, torch.Tensor]]):
        """Left-pad to one batch: embeds, attention mask, labels, position ids."""
        longest = max(len(e) for e, _ in seqs)
        device = seqs[0][0].device
        embeds = torch.zeros(len(seqs), longest, self.lm_dim, device=device)
        mask = torch.zeros(len(seqs), longest, dtype=torch.long, device=device)
        labels = torch.full((len(seqs), longest), IGNORE, dtype=torch.long, device=device)
        for i, (e, lab) in enumerate(seqs):
            embeds[i, longest - len(e) :] = e
            mask[i, longest - len(e) :] = 1
            labels[i, longest - len(e) :] = lab
        positions = (mask.cumsum(-1) - 1).clamp_min(0)
        return embeds, mask, labels, positions

    # --- training -----------------------------------------------------------------------------------------
    def training_step(self, batch: list[tuple]) -> torch.Tensor:
        """Mean next-token loss over the assistant's tokens; items are ``(frames, instruction, answer[,
        transcript[, match]])``. Batches are left-padded, so every answer ends at the last position: the vocabulary
        projection runs only over the last ``k`` positions that hold them."""
        embeds, mask, labels, positions = self.collate([self.sequence(*item) for item in batch])
        k = answer_positions(labels)
        logits = self.lm(inputs_embeds=embeds, attention_mask=mask, position_ids=positions, logits_to_keep=k).logits
        return answer_loss(logits, labels)

    # --- generation ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def generate(
        self,
        frames: list[torch.Tensor],
        instructions: list[str],
        max_new_tokens: int = 40,
        num_beams: int = 1,
        do_sample: bool = False,
        temperature: float = 1.0,
        top_p: float = 1.0,
        seed: int = 0,
        history: Turns = (),
        speech: list[str] | None = None,
    ) -> list[str]:
        """Batched generation with the KV cache; greedy by default (deterministic), beam search or seeded
        sampling on request. ``speech``: each item's transcript, for a model with a transcriber. A model with
        ``presence`` answers presence questions "yes" or "no" from :meth:`presence_evidence`, without generating."""
        self.eval()
        speech = speech if speech is not None else [None] * len(frames)
        items = zip(frames, instructions, speech, strict=True)
        seqs = [self.sequence(f, q, speech=s, history=history) for f, q, s in items]
        asked = [i for i, q in enumerate(instructions) if self.config.presence and asked_label(q) is not None]
        texts: list[str | None] = [None] * len(seqs)
        if asked:  # decided from one pass over the prompt; nothing to generate
            embeds, mask, _, positions = self.collate([seqs[i] for i in asked])
            evidence = self.presence_evidence(
                [frames[i] for i in asked], [instructions[i] for i in asked], embeds, mask, positions
            )
            *weights, bias = self.config.presence
            logits = evidence @ torch.tensor(weights, dtype=evidence.dtype) + bias
            for i, z in zip(asked, logits.tolist(), strict=True):
                texts[i] = "yes" if z > 0 else "no"
        rest = [i for i in range(len(seqs)) if texts[i] is None]
        if rest:
            embeds, mask, _, _ = self.collate([seqs[i] for i in rest])
            extra = {"temperature": temperature, "top_p": top_p} if do_sample else {}
            with torch.random.fork_rng():  # seeded sampling without touching the caller's random state
                torch.manual_seed(seed)
                out = self.lm.generate(
                    inputs_embeds=embeds,
                    attention_mask=mask,
                    max_new_tokens=max_new_tokens,
                    num_beams=num_beams,
                    do_sample=do_sample,
                    pad_token_id=self.pad_id,
                    eos_token_id=self.eos_id,
                    **extra,
                )
            for i, t in zip(rest, self.tokenizer.batch_decode(out, skip_special_tokens=True), strict=True):
                texts[i] = t.strip()
                if self.config.caption_retrieval and instructions[i] == CAPTION_INSTRUCTION and not history:
                    texts[i] = self.choose_caption(frames[i], texts[i], speech[i])
        return texts

    def set_caption_bank(self, captions: list[str]) -> None:
        """The training captions :meth:`choose_caption` retrieves from, embedded in the ``match`` joint space."""
        self.caption_bank = list(captions)
        self._bank_vectors = torch.from_numpy(self.towers.embed_text(self.caption_bank)) if captions else None

    @torch.no_grad()
    def choose_caption(self, frames: torch.Tensor, caption: str, speech: str | None) -> str:
        """The LM's ``caption`` or the caption bank's nearest to the window, whichever
        the ``match`` joint space puts nearer to it (the LM's on a tie): retrieval captioning, judged by the
        towers as CLAP re-ranks candidate captions. Where speech was heard, the LM's caption stays: it can say
        what was said, and a retrieved caption cannot."""
        if speech or self._bank_vectors is None:
            return caption
        window = window_embedding(self.towers, frames)
        scores = self._bank_vectors @ window
        best = int(scores.argmax())
        return self.caption_bank[best] if float(scores[best]) > float(window @ self._text(caption)) else caption

    @torch.no_grad()
    def yes_no_margins(self, embeds: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """``[B]``: the LM's first-token logit of "yes" minus that of "no" after collated prompts."""
        logits = self.lm(inputs_embeds=embeds, attention_mask=mask, position_ids=positions, logits_to_keep=1).logits
        yes, no = self.answer_ids("yes")[0], self.answer_ids("no")[0]
        return (logits[:, -1, yes] - logits[:, -1, no]).float().cpu()

    @torch.no_grad()
    def presence_evidence(self, frames, instructions, embeds, mask, positions) -> torch.Tensor:
        """``[B, 4]`` for presence questions ("Is there a dog sound?", "Does anyone speak?"; ``asked_label``)
        and their collated prompts: the LM's "yes" - "no" first-token logit (:meth:`yes_no_margins`); the joint
        space's cosines of the window with the named sound in the Two-Towers prompt ("the sound of a dog") and
        with the question as written; and the named sound's best cosine with one frame of the window, which a
        short sound in a long window keeps where the window's mean dilutes it. A model with ``presence``
        answers "yes" when ``evidence @ (w_lm, w_sound, w_question, w_frame) + bias > 0``; the weights are
        fitted on held-out clips (``recipes/two_heads_presence.py``): the LM alone says "yes" to absent sounds
        it never learned to rule out, and the joint space knows far more sounds."""
        margins = self.yes_no_margins(embeds, mask, positions)
        prompt = self.towers.config.prompt
        cosines = []
        for f, q in zip(frames, instructions, strict=True):
            window, sound = window_embedding(self.towers, f), self._text(prompt.format(asked_label(q)))
            best_frame = (self.towers.project_audio(f.float()).cpu() @ sound).max()
            cosines.append([float(window @ sound), float(window @ self._text(q)), float(best_frame)])
        return torch.cat([margins[:, None], torch.tensor(cosines)], dim=1)

    # --- persistence --------------------------------------------------------------------------------------
    def save_pretrained(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.config.save(folder / "config.json")
        save_file(
            trainable_state_dict(self), str(folder / "model.safetensors"), metadata={"format": "almkit-two-heads"}
        )
        if self.caption_bank:
            save_file(
                {"vectors": self._bank_vectors.contiguous()},
                str(folder / CAPTION_BANK),
                metadata={"captions": json.dumps(self.caption_bank)},
            )
        return folder

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> TwoHeads:
        folder = Path(folder)
        if not (folder / "config.json").is_file() or not (folder / "model.safetensors").is_file():
            raise CheckpointError(
                "not a Two-Heads model folder (needs config.json and model.safetensors)",
                source=folder,
                hint="train one with recipes/two_heads.py",
            )
        model = cls(TwoHeadsConfig.load(folder / "config.json"))
        load_trainable_weights(model, folder / "model.safetensors")
        if model.config.caption_retrieval:
            model.load_caption_bank(folder / CAPTION_BANK)
        return model.eval()

    def load_caption_bank(self, path: Path) -> None:
        """The caption bank :meth:`save_pretrained` wrote (captions and their vectors, both from ``match``)."""
        from safetensors import safe_open

        if not path.is_file():
            raise CheckpointError(
                "caption_retrieval is on but the caption bank is missing",
                source=path,
                hint="write it with python recipes/two_heads_captions.py --model FOLDER",
            )
        with safe_open(str(path), "pt") as f:
            captions, vectors = json.loads(f.metadata()["captions"]), f.get_tensor("vectors")
        if vectors.shape != (len(captions), self.towers.config.embed_dim):
            raise CheckpointError(f"{len(captions)} captions but vectors of shape {list(vectors.shape)}", source=path)
        self.caption_bank, self._bank_vectors = captions, vectors
