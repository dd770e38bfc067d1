"""The evaluation harness: replay historical IMR letters and score drafts against them."""
