"""Provider discovery (stevedore) and cross-cutting hooks (pluggy)."""
