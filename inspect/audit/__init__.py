"""The audit trail (全程留痕): one append-only, hash-chained log of every action and of every
staff read of non-public enterprise data."""
