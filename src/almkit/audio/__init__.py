"""The audio front-end: decoding (wav, flac, ogg/opus, mp3, ...), mono, soxr resampling, the one chunking policy."""

from almkit.audio.chunking import ChunkPolicy
from almkit.audio.io import AUDIO_SUFFIXES, AudioInfo, audio_info, load_audio, resample

__all__ = ["AUDIO_SUFFIXES", "AudioInfo", "ChunkPolicy", "audio_info", "load_audio", "resample"]
