"""Runs a throwaway Kubernetes control plane and the changetrail stack for the e2e suite.

Everything here starts plain local processes on 127.0.0.1 (no containers), so the
suite can run on any Linux machine that can build Go code.
"""
