"""Cooperated systems: a language model that plans calls to audio tools and answers from what they return.

``tools.py`` (typed tools and their registry), ``audio_tools.py`` (almkit's audio tools), ``sources.py`` (where a
client's audio may come from), ``local_lm.py`` (SmolLM2 under a JSON-schema grammar), ``examples.py`` (the
planner's worked examples) and ``agent.py`` (the loop, local or over an OpenAI-compatible endpoint).
"""
