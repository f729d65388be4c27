"""changetrail: what changed?"""
