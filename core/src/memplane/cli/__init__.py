"""memplane.cli"""
