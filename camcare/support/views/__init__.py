"""The support console's views, one module per area: the second factor (verify.py), search
(search.py), the account page (account.py), money (money.py), and the recovery of a
receipt or a failed payment (recovery.py)."""
