"""memplane.embedders"""
