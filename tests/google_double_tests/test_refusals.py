"""The double refuses what Google refuses, in Google's shapes: every request is checked against the discovery
documents (paths, query parameters, body fields and types), and gcloud shows the refusal to its user."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.google_double import GoogleDouble
from tests.google_double.discovery import APIS, Surface, load_document
from tests.google_double.fixture import Gcloud

AUTH = {"Authorization": "Bearer any"}
ENVIRONMENTS = "composer/v1/projects/double-project/locations/us-central1/environments"
NAME = "projects/double-project/locations/us-central1/environments/env"


def _error(response: httpx.Response) -> dict[str, Any]:
    return dict(response.json()["error"])


def test_an_unknown_body_field_is_refused_and_nothing_is_created(google_double: GoogleDouble) -> None:
    sent = httpx.post(f"{google_double.url}/{ENVIRONMENTS}", headers=AUTH, json={"name": NAME, "x": 1})
    assert sent.status_code == 400
    message = "Invalid JSON payload received. Unknown name \"x\" at 'environment': Cannot find field."
    assert _error(sent) == {"code": 400, "message": message, "status": "INVALID_ARGUMENT", "details": [
        {"@type": "type.googleapis.com/google.rpc.BadRequest",
         "fieldViolations": [{"field": "environment", "description": message}]}]}
    assert google_double.resource("composer", NAME) is None
    [recorded] = google_double.requests()
    assert (recorded.method, recorded.status, recorded.body) == (
        "composer.projects.locations.environments.create", 400, {"name": NAME, "x": 1})


@pytest.mark.parametrize(("body", "message"), [
    # Nested through $ref, an array of $ref, and a map's values.
    ({"config": {"softwareConfig": {"pypiPackagez": {}}}},
     "Invalid JSON payload received. Unknown name \"pypiPackagez\" at 'environment.config.software_config': "
     "Cannot find field."),
    ({"config": {"workloadsConfig": {"scheduler": {"cpu": 1, "memoryGb": 2, "disk": 3}}}},
     "Invalid JSON payload received. Unknown name \"disk\" at 'environment.config.workloads_config.scheduler': "
     "Cannot find field."),
    ({"config": {"nodeConfig": {"oauthScopes": [{"scope": "x"}]}}},
     "Invalid value at 'environment.config.node_config' (oauth_scopes[0]), Starting an object on a scalar field"),
    ({"labels": {"team": 7}}, "Invalid value at 'environment.labels[0].value' (TYPE_STRING), 7"),
    ({"config": {"nodeCount": "three"}}, "Invalid value at 'environment.config.node_count' (TYPE_INT32), \"three\""),
    ({"config": {"airflowUri": {"https": True}}},
     "Invalid value at 'environment.config' (airflow_uri), Starting an object on a scalar field"),
    ({"labels": ["team"]},
     "Invalid JSON payload received. Unknown name \"labels\" at 'environment': Proto field is not repeating, cannot "
     "start list."),
    ({"state": "SLEEPING"}, "Invalid value at 'environment.state' (TYPE_ENUM), \"SLEEPING\""),
    ({"config": {"privateEnvironmentConfig": {"enablePrivateEnvironment": "yes"}}},
     "Invalid value at 'environment.config.private_environment_config.enable_private_environment' (TYPE_BOOL), "
     "\"yes\""),
    ({"config": {"memoryGB": 2}},  # a wrong spelling is an unknown name (memoryGb is published elsewhere)
     "Invalid JSON payload received. Unknown name \"memoryGB\" at 'environment.config': Cannot find field."),
])
def test_a_wrong_field_or_type_anywhere_in_the_body_is_refused(google_double: GoogleDouble, body: dict[str, Any],
                                                               message: str) -> None:
    sent = httpx.post(f"{google_double.url}/{ENVIRONMENTS}", headers=AUTH, json={"name": NAME, **body})
    assert sent.status_code == 400
    assert _error(sent)["message"] == message
    assert _error(sent)["status"] == "INVALID_ARGUMENT"


def test_unknown_query_parameters_and_wrong_parameter_types_are_refused(google_double: GoogleDouble) -> None:
    google_double.seed_composer_environment("env")
    url = f"{google_double.url}/composer/v1/{NAME}"
    unknown = httpx.get(url, headers=AUTH, params={"view": "FULL"})
    assert unknown.status_code == 400
    assert _error(unknown)["message"] == ("Invalid JSON payload received. Unknown name \"view\": Cannot bind query "
                                          "parameter. Field 'view' could not be found in request message.")
    typed = httpx.get(f"{google_double.url}/{ENVIRONMENTS}", headers=AUTH, params={"pageSize": "ten"})
    assert _error(typed)["message"] == "Invalid value at 'page_size' (TYPE_INT32), \"ten\""
    assert httpx.get(url, headers=AUTH, params={"alt": "json", "prettyPrint": "false"}).status_code == 200


def test_unknown_methods_and_paths_are_not_found(google_double: GoogleDouble) -> None:
    google_double.seed_composer_environment("env")
    verb = httpx.post(f"{google_double.url}/composer/v1/{NAME}:frobnicate", headers=AUTH, json={})
    assert verb.status_code == 404 and _error(verb) == {"code": 404, "message": "Method not found.",
                                                        "status": "NOT_FOUND"}
    # A verb Google does not publish for this path (environments have no PUT).
    assert httpx.put(f"{google_double.url}/composer/v1/{NAME}", headers=AUTH, json={}).status_code == 404
    elsewhere = httpx.get(f"{google_double.url}/compute/v1/projects/p/zones", headers=AUTH)
    assert elsewhere.status_code == 404 and _error(elsewhere)["status"] == "NOT_FOUND"
    missing = httpx.get(f"{google_double.url}/composer/v1/{NAME}-2", headers=AUTH)
    assert missing.status_code == 404 and NAME + "-2" in _error(missing)["message"]


def test_cloud_storage_refuses_in_its_own_shape(google_double: GoogleDouble) -> None:
    sent = httpx.post(f"{google_double.url}/storage/v1/b", headers=AUTH, params={"project": "p"},
                      json={"name": "bucket-x", "versioning": {"enabld": True}})
    message = "Invalid JSON payload received. Unknown name \"enabld\" at 'versioning': Cannot find field."
    assert sent.status_code == 400
    assert sent.json() == {"error": {"code": 400, "message": message, "errors": [
        {"message": message, "domain": "global", "reason": "invalid"}]}}


def test_a_request_without_a_bearer_token_is_unauthenticated(google_double: GoogleDouble) -> None:
    sent = httpx.get(f"{google_double.url}/composer/v1/{NAME}")
    assert sent.status_code == 401 and _error(sent)["status"] == "UNAUTHENTICATED"


def test_gcloud_shows_the_double_s_400_to_its_user(google_double: GoogleDouble, gcloud: Gcloud) -> None:
    refused = gcloud("iam", "service-accounts", "create", "sa1", check=False)
    assert refused.returncode == 1
    assert ('ERROR: (gcloud.iam.service-accounts.create) INVALID_ARGUMENT: The account ID "sa1" does not have a '
            "length between 6 and 30.") in refused.stderr
    assert [(r.method, r.status) for r in google_double.requests()] == [("iam.projects.serviceAccounts.create", 400)]


def test_a_planned_refusal_reaches_gcloud_after_the_request_passed_its_checks(google_double: GoogleDouble,
                                                                              gcloud: Gcloud) -> None:
    google_double.seed_composer_environment("env")
    google_double.fail("composer.projects.locations.environments.get", 403,
                       "Permission 'composer.environments.get' denied on resource.")
    refused = gcloud("composer", "environments", "describe", "env", "--location", "us-central1", check=False)
    assert refused.returncode == 1
    assert "PERMISSION_DENIED: Permission 'composer.environments.get' denied on resource." in refused.stderr
    gcloud("composer", "environments", "describe", "env", "--location", "us-central1")  # once only


def test_every_published_method_is_routed_from_the_documents() -> None:
    surface = Surface()
    for api, names in APIS.items():
        for name in names:
            document = load_document(name)
            assert document["name"] == name.split(".")[0]

            def count(resources: dict[str, Any]) -> int:
                return sum(len(r.get("methods", {})) + count(r.get("resources", {})) for r in resources.values())

            routed = {m.id for m in surface.routes if m.document.name == name and not m.media}
            # Methods of the document itself (oauth2's tokeninfo), then those of its resources.
            published = len(document.get("methods", {})) + count(document.get("resources", {}))
            assert len(routed) == published, (api, name)


def test_a_seed_google_could_not_hold_is_refused_at_once(google_double: GoogleDouble) -> None:
    with pytest.raises(ValueError, match=r'Unknown name "airflowUrl" at \'config\''):
        google_double.seed("composer", NAME, {"name": NAME, "config": {"airflowUrl": "https://x"}})
    with pytest.raises(ValueError, match="no container get method"):
        google_double.seed("container", "projects/p/nowhere/x", {})


def test_responses_are_cut_to_the_response_schema(google_double: GoogleDouble) -> None:
    google_double.seed_composer_environment("env")
    stored = google_double.resource("composer", NAME)
    assert stored is not None
    stored["internalNote"] = "not published"  # state may hold more than Google publishes
    answered = httpx.get(f"{google_double.url}/composer/v1/{NAME}", headers=AUTH).json()
    assert "internalNote" not in answered and answered["name"] == NAME
    assert json.loads(json.dumps(answered)) == answered


def test_an_api_the_double_does_not_serve_is_a_quick_recorded_404(google_double: GoogleDouble,
                                                                  gcloud: Gcloud) -> None:
    refused = gcloud("compute", "zones", "list", check=False)
    assert refused.returncode != 0
    assert "The requested URL /compute/projects/double-project/zones was not found on this server." in refused.stderr
    assert [(r.http_method, r.path, r.status) for r in google_double.unrouted()] == [
        ("GET", "/compute/projects/double-project/zones", 404)]
