"""Findings of inspections (检查结果), their publicity (一公开), enterprise ratings of visits,
and fee compliance (涉企收费, in `fees`)."""
