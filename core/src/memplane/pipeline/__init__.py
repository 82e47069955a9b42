"""memplane.pipeline"""
