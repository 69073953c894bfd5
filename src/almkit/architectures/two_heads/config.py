"""Two-Heads configuration, saved as ``config.json`` beside the trained projector (+ LoRA) weights."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from almkit.errors import ConfigError

#: ``transcriber`` values: Whisper base / tiny.en (open vocabulary, English), PocketSphinx (``phrases``), none.
TRANSCRIBERS = ("whisper", "whisper-tiny.en", "pocketsphinx", "none")


@dataclass
class TwoHeadsConfig:
    """Audio encoder (frozen) -> projector -> soft tokens in a causal LM's chat template.

    ``lm`` is ``smollm2`` (the pinned asset) or a local ``transformers`` causal-LM folder. ``lora_r`` 0 trains
    the projector only; > 0 also trains LoRA adapters on the LM's attention projections (peft). ``match``
    names a Two-Towers model over the same audio encoder: the cosine between the window (its frames' mean through
    that model's audio projection) and the question goes into the prompt, so the LM reads how well the joint
    space says the question fits the audio ("Is there a dog sound?" against a dog bark or a river); with
    ``match_line`` off it stays out of the prompt. ``presence`` (needs ``match``) decides the yes or no of a
    presence question from the LM and the joint space together (see ``TwoHeads.presence_evidence``).
    """

    audio_encoder: str = "yamnet+scores"
    frame_hop_s: float | None = 0.48  # hop between encoder frames; None keeps the encoder's own hop
    lm: str = "smollm2"
    system: str = "Answer about the audio."  # short: every prompt token costs training time on CPU
    projector: str = "mlp"  # or "qformer": learned queries cross-attending to the frames
    hidden_dim: int = 256
    n_queries: int = 8
    score_prior: bool = False  # MLP only: start soft tokens at the LM's embeddings of the encoder's class names
    lora_r: int = 8
    lora_alpha: int = 16
    lora_targets: tuple[str, ...] = ("q_proj", "v_proj")
    transcriber: str = "whisper"  # the window's transcript goes into the prompt (LTU-AS style); see TRANSCRIBERS
    phrases: tuple[str, ...] = ()  # PocketSphinx's closed vocabulary (empty: open); Whisper keeps it as metadata
    tags: int = 0  # top AudioSet tags of the window (name and score) written into the prompt; needs class scores
    match: str = ""  # a Two-Towers model ("default" or a folder): its window-question cosine goes into the prompt
    match_sha256: str = ""  # that model's checkpoint hash when this model was trained (checked on load)
    match_line: bool = True  # the window-question cosine goes into the prompt ("Match: 0.13")
    presence: tuple[float, ...] = ()  # (w_lm, w_sound, w_question, w_frame, bias): presence decision (held-out fit)
    caption_retrieval: bool = False  # the nearest training caption competes with the LM's (caption_bank.safetensors)
    window_s: float = 10.0  # audio per generation window; longer audio is answered window by window
    audio_dim: int = 0  # filled in from the encoder when the model is created
    architecture: str = "Two-Heads"  # written into config.json: almkit.load reads it

    def validate(self) -> TwoHeadsConfig:
        if self.architecture != "Two-Heads":
            raise ConfigError(f"architecture={self.architecture!r}: this is the Two-Heads configuration")
        from almkit.architectures.two_heads.projectors import PROJECTORS

        if self.projector not in PROJECTORS:
            raise ConfigError(f"projector={self.projector!r} must be one of {', '.join(PROJECTORS)}")
        if self.score_prior and (self.projector != "mlp" or self.audio_encoder != "yamnet+scores"):
            raise ConfigError("score_prior needs projector='mlp' and audio_encoder='yamnet+scores' (class scores)")
        if self.tags < 0 or (self.tags and self.audio_encoder != "yamnet+scores"):
            raise ConfigError(f"tags={self.tags} must be >= 0, and > 0 needs audio_encoder='yamnet+scores'")
        if self.match_sha256 and not self.match:
            raise ConfigError("match_sha256 is set but match (the Two-Towers model) is not")
        if self.presence and (len(self.presence) != 5 or not self.match):
            raise ConfigError(
                f"presence={self.presence} needs match and 5 weights: w_lm, w_sound, w_question, w_frame, bias "
                "(refit them: python recipes/two_heads_presence.py --model FOLDER)"
            )
        if self.caption_retrieval and not self.match:
            raise ConfigError("caption_retrieval needs match (the Two-Towers model that retrieves and judges)")
        if self.transcriber not in TRANSCRIBERS:
            raise ConfigError(f"transcriber={self.transcriber!r} must be one of {', '.join(TRANSCRIBERS)}")
        if self.lora_r < 0 or self.hidden_dim < 1 or self.n_queries < 1 or self.window_s <= 0:
            raise ConfigError("lora_r >= 0, hidden_dim >= 1, n_queries >= 1 and window_s > 0 are required")
        if self.frame_hop_s is not None and self.frame_hop_s <= 0:
            raise ConfigError(f"frame_hop_s={self.frame_hop_s} must be positive (or null for the encoder's hop)")
        return self

    def build_encoder(self):
        """The frozen audio encoder, with this config's frame hop."""
        from almkit.audio.chunking import ChunkPolicy
        from almkit.encoders import build_audio_encoder

        encoder = build_audio_encoder(self.audio_encoder)
        if self.frame_hop_s is not None:
            encoder.policy = ChunkPolicy(encoder.policy.window_s, self.frame_hop_s, encoder.policy.pooling)
        return encoder

    def build_transcriber(self):
        """The speech transcriber whose text goes into the prompt, or None. Whisper's text comes in the form
        PocketSphinx gives (``spoken_form``: lower-case words, digits spelt out), so a model trained on
        PocketSphinx transcripts reads the same kind of text."""
        if self.transcriber == "none":
            return None
        from almkit.encoders.speech import Transcriber, WhisperTranscriber

        if self.transcriber.startswith("whisper"):
            model = self.transcriber.removeprefix("whisper").removeprefix("-") or "base"
            return WhisperTranscriber(model, language="en", normalize=True)
        return Transcriber(self.phrases)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path, **overrides) -> TwoHeadsConfig:
        """``path``'s config; ``overrides`` replace fields before validation."""
        from almkit.architectures import load_config

        return load_config(cls, path, "Two-Heads", **overrides)
