"""A local double of the Google APIs the product calls, for the real gcloud CLI.

gcloud reaches it through its own environment alone (`GoogleDouble.environment()`: CLOUDSDK_CONFIG, an access token,
CLOUDSDK_API_ENDPOINT_OVERRIDES_<API> per API), so the product runs unchanged. Routes, parameters and request and
response schemas come from Google's discovery documents (shipped in google-api-python-client); every request is
checked against them and refused in Google's own error shapes; state is in memory, one double per test.

    with GoogleDouble() as double:
        double.seed_composer_environment("env", "us-central1")
        subprocess.run(["gcloud", "composer", "environments", "describe", "env", "--location", "us-central1"],
                       env={**os.environ, **double.environment(tmp_path)})
        assert double.methods() == ["composer.projects.locations.environments.get"]

By hand: `python -m tests.google_double --port 8765` prints the variables to export.
"""

from tests.google_double.server import GoogleDouble
from tests.google_double.state import Recorded

__all__ = ["GoogleDouble", "Recorded"]
