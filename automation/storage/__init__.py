"""Buckets (gs://) reached from this machine through fsspec: Cloud Storage, or the rehearsal's emulator."""
