"""Corpora, label maps, audio input and speaker-independent protocols."""
