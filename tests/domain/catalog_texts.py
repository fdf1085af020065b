"""Catalog TOML pieces the domain tests build their catalogs from (POLICY.md section 1)."""

FREE = """
[[plan]]
code = "free"
name = "Free"
scope = "camera"
max_cameras = 0
history_days = 2
currency = "USD"
prices = { monthly = 0, annual = 0 }
"""

PLUS = """
[[plan]]
code = "plus"
name = "Plus"
scope = "camera"
max_cameras = 1
history_days = 14
currency = "USD"
prices = { monthly = 399, annual = 3999 }
"""
