"""The domain core: money, periods, catalog, pricing and proration, order ids.

Plain Python with no Django import (tests/domain/test_purity.py enforces it), so the
rules of POLICY.md can be read, tested and benchmarked on their own.
"""
