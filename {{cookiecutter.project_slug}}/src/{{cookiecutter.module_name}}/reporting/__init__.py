"""The pull-request report, the model card, and the comment that posts them."""
