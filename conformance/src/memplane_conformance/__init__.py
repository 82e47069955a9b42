"""memplane-conformance: the shared provider contract suite."""
