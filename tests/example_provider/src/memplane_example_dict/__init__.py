"""memplane-example-dict: an example third-party vector store (``example_dict``)."""
