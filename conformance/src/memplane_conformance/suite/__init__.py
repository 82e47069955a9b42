"""Zero-code test modules: collected only under ``--memplane-provider KIND:NAME``."""
