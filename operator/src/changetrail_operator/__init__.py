"""The Kubernetes operator: watches workloads and records their changes into the API."""
