"""Runs a throwaway Kubernetes cluster and the changetrail stack for the e2e suite.

The control plane is plain local processes; a real node (kubelet, containerd, runc) runs in
network and mount namespaces of its own, so the chart's pods run from the images built for
the run. Without root, the API and the operator run as local processes instead.
"""
