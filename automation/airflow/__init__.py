"""Airflow's REST API from this machine: the client and the endpoint (URL and credentials) it is given.

Below every layer that talks to Airflow (providers, lifecycle, e2e, day2), and knowing nothing of targets or
clusters: which URL and which login a target has is resolved above (providers.airflow_endpoint).
"""
