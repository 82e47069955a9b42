"""memplane.rerankers"""
