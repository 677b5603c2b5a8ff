"""Enterprise-related fee compliance (涉企收费): fee findings checked against the fee catalog
(涉企收费目录清单), a review queue for uncertain name matches, and refund tracking."""
