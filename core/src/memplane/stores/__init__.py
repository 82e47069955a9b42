"""memplane.stores"""
