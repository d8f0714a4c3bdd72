"""Airflow on Kubernetes, the same on a laptop (Minikube) and in the cloud (GKE, Cloud Composer)."""
