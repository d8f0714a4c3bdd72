"""The Google APIs double and the real gcloud, for every test of this folder."""

from tests.google_double.fixture import gcloud, google_double

__all__ = ["gcloud", "google_double"]
