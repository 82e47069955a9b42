"""memplane.llms"""
